"""webhooks: one document per webhook — its URL, events, secret, thresholds and their state.

The id is a hash of (tenant, url): defining the same URL again replaces its events, secret
and thresholds (a resent definition changes nothing; a new secret rotates it). The secret is
stored as given, because every delivery is signed with it; no query ever returns it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.store.client import Doc, Mongo, to_list
from service.store.indexes import WEBHOOKS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def upsert(mongo: Mongo, webhook_id: str, tenant: str, fields: Doc, now: datetime) -> Doc:
    """Create or replace a definition; it is (re-)enabled and its thresholds are checked
    anew, keeping the state of thresholds whose definition did not change."""
    update = {
        "$set": {**fields, "enabled": True, "updatedAt": now, "evaluatedVersion": -1,
                 "evalLeaseUntil": EPOCH},
        "$setOnInsert": {"tenant": tenant, "createdAt": now, "thresholdState": {}},
        "$inc": {"revision": 1},
    }  # fmt: skip
    for _ in range(3):  # two first definitions racing: the loser updates the winner's
        try:
            doc = await mongo[WEBHOOKS].find_one_and_update(
                {"_id": webhook_id}, update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:
            continue
        if doc is not None:
            return dict(doc)
    raise RuntimeError(f"the webhook {webhook_id} could not be stored")


async def count(mongo: Mongo, tenant: str) -> int:
    n: int = await mongo[WEBHOOKS].count_documents({"tenant": tenant})
    return n


async def exists(mongo: Mongo, tenant: str, webhook_id: str) -> bool:
    return (
        await mongo[WEBHOOKS].find_one({"_id": webhook_id, "tenant": tenant}, {"_id": 1})
        is not None
    )


async def of_tenant(mongo: Mongo, tenant: str) -> list[Doc]:
    docs = await to_list(mongo[WEBHOOKS].find({"tenant": tenant}))
    return sorted(docs, key=lambda d: (d["createdAt"], d["_id"]))


async def get(mongo: Mongo, webhook_id: str, tenant: str | None = None) -> Doc | None:
    query: Doc = {"_id": webhook_id}
    if tenant is not None:
        query["tenant"] = tenant
    doc = await mongo[WEBHOOKS].find_one(query)
    return dict(doc) if doc else None


async def delete(mongo: Mongo, tenant: str, webhook_id: str) -> bool:
    result = await mongo[WEBHOOKS].delete_one({"_id": webhook_id, "tenant": tenant})
    return bool(result.deleted_count)


async def set_enabled(mongo: Mongo, tenant: str, webhook_id: str, enabled: bool,
                      now: datetime) -> Doc | None:  # fmt: skip
    update: Doc = {"$set": {"enabled": enabled, "updatedAt": now}}
    if enabled:  # thresholds are checked at once, from the state they had
        update["$set"].update(evaluatedVersion=-1, evalLeaseUntil=EPOCH)
        update["$inc"] = {"revision": 1}
    doc = await mongo[WEBHOOKS].find_one_and_update(
        {"_id": webhook_id, "tenant": tenant}, update, return_document=ReturnDocument.AFTER
    )
    return dict(doc) if doc else None


async def subscribed(mongo: Mongo, tenant: str, event: str) -> list[Doc]:
    """The tenant's enabled webhooks for ``event`` (ids only)."""
    docs = await to_list(mongo[WEBHOOKS].find({"tenant": tenant}, {"events": 1, "enabled": 1}))
    return [d for d in docs if d.get("enabled") and event in (d.get("events") or [])]


async def watching(mongo: Mongo, event: str) -> list[Doc]:
    """Every tenant's enabled webhooks for ``event``, without their secrets."""
    docs = await to_list(mongo[WEBHOOKS].find({"events": event}, {"secret": 0}))
    return [d for d in docs if d.get("enabled")]


async def claim_evaluation(mongo: Mongo, webhook_id: str, version: int, owner: str,
                           now: datetime, lease: timedelta) -> Doc | None:  # fmt: skip
    """Its thresholds are this replica's to check at ``version``: none has checked them at
    that version yet and nobody holds the lease (a holder that died lets it lapse)."""
    doc = await mongo[WEBHOOKS].find_one_and_update(
        {"_id": webhook_id, "evaluatedVersion": {"$lt": version}, "evalLeaseUntil": {"$lte": now}},
        {"$set": {"evalOwner": owner, "evalLeaseUntil": now + lease}},
        return_document=ReturnDocument.AFTER,
    )
    return dict(doc) if doc else None


async def finish_evaluation(mongo: Mongo, webhook_id: str, owner: str, revision: int,
                            version: int, states: dict[str, Any]) -> bool:  # fmt: skip
    """Record the checked version and each threshold's new state, unless the lease lapsed
    or the webhook was redefined meanwhile (then it is checked again)."""
    fields = {f"thresholdState.{key}": state for key, state in states.items()}
    result = await mongo[WEBHOOKS].update_one(
        {"_id": webhook_id, "evalOwner": owner, "revision": revision},
        {"$set": {"evaluatedVersion": version, "evalLeaseUntil": EPOCH, **fields}},
    )
    return bool(result.modified_count)


async def release_evaluation(mongo: Mongo, webhook_id: str, owner: str) -> None:
    await mongo[WEBHOOKS].update_one(
        {"_id": webhook_id, "evalOwner": owner}, {"$set": {"evalLeaseUntil": EPOCH}}
    )
