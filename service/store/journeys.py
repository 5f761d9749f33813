"""Journey definitions: key, name and ordered stages per tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from service.domain.records import JourneyRecord
from service.store import decode
from service.store.client import Doc, Mongo, to_list
from service.store.indexes import JOURNEYS


async def upsert(mongo: Mongo, tenant: str, journey: dict[str, Any]) -> tuple[JourneyRecord, bool]:
    """Store a definition; returns it and whether anything changed."""
    current = await mongo[JOURNEYS].find_one({"tenant": tenant, "key": journey["key"]})
    if current and current["name"] == journey["name"] and current["stages"] == journey["stages"]:
        return decode.journey(current), False
    now = datetime.now(UTC)
    doc = await mongo[JOURNEYS].find_one_and_update(
        {"tenant": tenant, "key": journey["key"]},
        {
            "$set": {"name": journey["name"], "stages": journey["stages"], "updatedAt": now},
            "$setOnInsert": {"createdAt": now},
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return decode.journey(doc), True


async def get(mongo: Mongo, tenant: str, key: str) -> JourneyRecord | None:
    doc: Doc | None = await mongo[JOURNEYS].find_one({"tenant": tenant, "key": key})
    return decode.journey(doc) if doc else None


async def list_all(mongo: Mongo, tenant: str) -> list[JourneyRecord]:
    docs = await to_list(mongo[JOURNEYS].find({"tenant": tenant}).sort("key", 1))
    return [decode.journey(d) for d in docs]


async def stage_map(mongo: Mongo, tenant: str) -> dict[str, frozenset[str]]:
    docs = await to_list(mongo[JOURNEYS].find({"tenant": tenant}, {"key": 1, "stages.key": 1}))
    return {d["key"]: frozenset(s["key"] for s in d["stages"]) for d in docs}
