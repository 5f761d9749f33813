"""Customer documents: stubs for customers known only by reference, and segment snapshots."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import BulkWriteError

from service.domain.ids import record_id
from service.domain.records import CustomerFacts, CustomerRecord
from service.store import decode
from service.store.client import ID_CHUNK, Doc, Mongo, aggregate, find_by_ids, to_list
from service.store.indexes import CUSTOMERS, SURVEY_RESPONSES, TOUCHPOINTS

DUPLICATE_KEY = 11000
# Collections whose documents snapshot the customer's segments when they are recorded.
SNAPSHOTTING = (TOUCHPOINTS, SURVEY_RESPONSES)


async def segments_with_stubs(
    mongo: Mongo, tenant: str, refs: Iterable[tuple[str, str]]
) -> dict[str, list[str] | None]:
    """Each referenced customer's segments, creating a stub for each one not known yet.

    ``None`` means the customer is a stub: its segments are not known yet.
    """
    wanted = {record_id(CUSTOMERS, tenant, s, e): (s, e) for s, e in refs}
    found = await _segments(mongo, wanted)
    missing = [cid for cid in wanted if cid not in found]
    if missing:
        now = datetime.now(UTC)
        stubs = [
            {"_id": cid, "tenant": tenant, "source": wanted[cid][0], "externalId": wanted[cid][1],
             "stub": True, "segments": [], "createdAt": now, "updatedAt": now}
            for cid in missing
        ]  # fmt: skip
        try:
            await mongo[CUSTOMERS].insert_many(stubs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            # A concurrent writer created some of them first: read what it stored.
            found.update(await _segments(mongo, {cid: wanted[cid] for cid in missing}))
        for cid in missing:
            found.setdefault(cid, None)
    return found


async def _segments(mongo: Mongo, wanted: dict[str, Any]) -> dict[str, list[str] | None]:
    docs = await find_by_ids(mongo[CUSTOMERS], list(wanted), {"segments": 1, "stub": 1})
    return {d["_id"]: (None if d.get("stub") else list(d.get("segments", []))) for d in docs}


async def apply_segments_to_pending(
    mongo: Mongo, tenant: str, customer_ids: list[str]
) -> list[datetime]:
    """Give records stored while their customer was a stub that customer's segments.

    Returns the submission times of the survey responses it changed (their rollup days).
    """
    if not customer_ids:
        return []
    docs = await find_by_ids(
        mongo[CUSTOMERS], customer_ids, {"segments": 1}, tenant=tenant, stub={"$ne": True}
    )
    by_segments: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for d in docs:
        by_segments[tuple(d.get("segments", []))].append(d["_id"])
    changed: list[datetime] = []
    for segments, ids in by_segments.items():
        for i in range(0, len(ids), ID_CHUNK):  # small $in lists: see find_by_ids
            chunk = ids[i : i + ID_CHUNK]
            pending = {"tenant": tenant, "customerId": {"$in": chunk}, "segmentsPending": True}
            responses = await to_list(mongo[SURVEY_RESPONSES].find(pending, {"submittedAt": 1}))
            changed.extend(r["submittedAt"] for r in responses)
            for collection in SNAPSHOTTING:
                await mongo[collection].update_many(
                    pending,
                    {"$set": {"segments": list(segments)}, "$unset": {"segmentsPending": ""}},
                )
    return changed


async def get(mongo: Mongo, tenant: str, customer_id: str) -> CustomerRecord | None:
    doc: Doc | None = await mongo[CUSTOMERS].find_one({"_id": customer_id, "tenant": tenant})
    return decode.customer(doc) if doc else None


async def get_many(mongo: Mongo, tenant: str, ids: list[str]) -> dict[str, CustomerRecord]:
    docs = await find_by_ids(mongo[CUSTOMERS], ids, None, tenant=tenant)
    return {d["_id"]: decode.customer(d) for d in docs}


async def facts(mongo: Mongo, tenant: str, segments: frozenset[str] | None) -> list[CustomerFacts]:
    """What the customer metrics read of every known (non-stub) customer in ``segments``."""
    query: Doc = {"tenant": tenant, "stub": {"$ne": True}}
    if segments is not None:
        query["segments"] = {"$in": sorted(segments)}
    projection = {"segments": 1, "signedUpAt": 1, "churnedAt": 1, "revenue": 1}
    docs = await to_list(mongo[CUSTOMERS].find(query, projection))
    return [CustomerFacts(segments=tuple(d.get("segments") or ()),
                          signed_up_at=d.get("signedUpAt"), churned_at=d.get("churnedAt"),
                          revenue=d.get("revenue")) for d in docs]  # fmt: skip


async def segment_counts(mongo: Mongo, tenant: str) -> list[tuple[str, int]]:
    """Each segment with its number of known customers, by segment."""
    rows = await aggregate(mongo[CUSTOMERS], [
        {"$match": {"tenant": tenant, "stub": {"$ne": True}}},
        {"$unwind": "$segments"},
        {"$group": {"_id": "$segments", "n": {"$sum": 1}}},
    ], timeout_s=mongo.query_timeout_s)  # fmt: skip
    return sorted((r["_id"], r["n"]) for r in rows)
