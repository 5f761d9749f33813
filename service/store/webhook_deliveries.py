"""webhook_deliveries: the outbox and the record of every delivery (docs/adr/0022).

One document per (webhook, event): the body it sends, its status (PENDING, DELIVERED,
FAILED, CANCELLED), its attempts and when the next one is due. A worker claims a due
delivery with one ``find_one_and_update`` that moves ``nextAttemptAt`` past its lease and
draws a fresh ``leaseToken``: no other replica takes it meanwhile, and only the holder of
the token records the outcome. A worker that dies lets the lease lapse; the delivery is then
due again, with the same id, body and idempotency key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from service.store.client import Doc, Mongo, aggregate, find_by_ids
from service.store.indexes import SURVEY_RESPONSES, WEBHOOK_DELIVERIES

PENDING, DELIVERED, FAILED, CANCELLED = "PENDING", "DELIVERED", "FAILED", "CANCELLED"
ATTEMPT_LOG = 20  # the last attempts each delivery keeps
DUPLICATE_KEY = 11000


async def record(mongo: Mongo, docs: list[Doc]) -> int:
    """Store new deliveries; one stored already (the same webhook and event) is left as it
    is. Returns how many were new."""
    if not docs:
        return 0
    try:
        result = await mongo[WEBHOOK_DELIVERIES].insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return len(docs) - len(errors)
    return len(result.inserted_ids)


async def claim(mongo: Mongo, now: datetime, lease: timedelta) -> Doc | None:
    """The delivery due the longest, now this caller's until ``now + lease``."""
    doc = await mongo[WEBHOOK_DELIVERIES].find_one_and_update(
        {"status": PENDING, "nextAttemptAt": {"$lte": now}},
        {"$set": {"nextAttemptAt": now + lease, "leaseToken": uuid.uuid4().hex},
         "$inc": {"attempts": 1}},
        sort=[("nextAttemptAt", 1)],
        return_document=ReturnDocument.AFTER,
    )  # fmt: skip
    return dict(doc) if doc else None


async def finish_attempt(mongo: Mongo, delivery_id: str, token: str, fields: Doc,
                         attempt: Doc) -> bool:  # fmt: skip
    """Record an attempt's outcome; False when the lease was lost (someone else owns it)."""
    result = await mongo[WEBHOOK_DELIVERIES].update_one(
        {"_id": delivery_id, "leaseToken": token, "status": PENDING},
        {"$set": {**fields, "leaseToken": None},
         "$push": {"attemptLog": {"$each": [attempt], "$slice": -ATTEMPT_LOG}}},
    )  # fmt: skip
    return bool(result.modified_count)


async def cancel_pending(mongo: Mongo, tenant: str, webhook_id: str, why: str,
                         now: datetime) -> int:  # fmt: skip
    result = await mongo[WEBHOOK_DELIVERIES].update_many(
        {"tenant": tenant, "webhookId": webhook_id, "status": PENDING},
        {"$set": {"status": CANCELLED, "lastError": why, "finishedAt": now, "leaseToken": None}},
    )
    return int(result.modified_count)


async def recent(mongo: Mongo, tenant: str, webhook_id: str | None, status: str | None,
                 limit: int) -> list[Doc]:  # fmt: skip
    """Newest first; ``webhook_id`` and ``status`` narrow the list."""
    query: Doc = {"tenant": tenant}
    if webhook_id is not None:
        query["webhookId"] = webhook_id
    pipeline: list[Doc] = [{"$match": query}]
    if status is not None:
        pipeline.append({"$match": {"status": status}})
    pipeline += [{"$sort": {"createdAt": DESCENDING, "_id": DESCENDING}}, {"$limit": limit}]
    return await aggregate(mongo[WEBHOOK_DELIVERIES], pipeline)


async def get(mongo: Mongo, tenant: str, delivery_id: str) -> Doc | None:
    doc = await mongo[WEBHOOK_DELIVERIES].find_one({"_id": delivery_id, "tenant": tenant})
    return dict(doc) if doc else None


async def retry(mongo: Mongo, tenant: str, delivery_id: str, now: datetime) -> Doc | None:
    """A finished delivery (even a DELIVERED one) is due again now, with a fresh budget of
    attempts and the same body and idempotency key; None if it is not finished."""
    doc = await mongo[WEBHOOK_DELIVERIES].find_one_and_update(
        {"_id": delivery_id, "tenant": tenant, "status": {"$in": [DELIVERED, FAILED, CANCELLED]}},
        {"$set": {"status": PENDING, "nextAttemptAt": now, "attempts": 0, "finishedAt": None,
                  "leaseToken": None}},
        return_document=ReturnDocument.AFTER,
    )  # fmt: skip
    return dict(doc) if doc else None


async def purge(mongo: Mongo, finished_before: datetime) -> int:
    result = await mongo[WEBHOOK_DELIVERIES].delete_many({"finishedAt": {"$lt": finished_before}})
    return int(result.deleted_count)


def new_delivery(delivery_id: str, tenant: str, webhook_id: str, event_id: str, event: str,
                 body: str, now: datetime) -> dict[str, Any]:  # fmt: skip
    return {"_id": delivery_id, "tenant": tenant, "webhookId": webhook_id, "eventId": event_id,
            "event": event, "body": body, "status": PENDING, "attempts": 0, "createdAt": now,
            "nextAttemptAt": now, "leaseToken": None, "attemptLog": []}  # fmt: skip


async def response_refs(mongo: Mongo, tenant: str, ids: Iterable[str]) -> list[Doc]:
    """The stored survey responses among ``ids``, with their partner references (what a
    recovered write's responses.ingested event reports)."""
    projection = {"source": 1, "externalId": 1}
    return await find_by_ids(mongo[SURVEY_RESPONSES], sorted(ids), projection, tenant=tenant)
