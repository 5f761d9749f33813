"""The tenants collection: per-tenant settings and the data version every write bumps."""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.store.client import Mongo
from service.store.indexes import TENANTS

UPSERT_ATTEMPTS = 3


async def _increment(mongo: Mongo, tenant: str, fields: dict[str, int]) -> dict[str, Any]:
    """``$inc`` on the tenant's document, created if missing. Two first writes of a tenant
    racing (two replicas, a client's resend) may both try to create it: the loser sees a
    duplicate key (or, on SecantusDB, no document) and increments the winner's."""
    for _ in range(UPSERT_ATTEMPTS - 1):
        try:
            doc = await mongo[TENANTS].find_one_and_update(
                {"_id": tenant}, {"$inc": fields}, upsert=True,
                return_document=ReturnDocument.AFTER,
            )  # fmt: skip
        except DuplicateKeyError:
            continue
        if doc is not None:
            return dict(doc)
    doc = await mongo[TENANTS].find_one_and_update(
        {"_id": tenant}, {"$inc": fields}, return_document=ReturnDocument.AFTER
    )
    if doc is None:
        raise RuntimeError(f"the tenant document of {tenant!r} could not be created")
    return dict(doc)


async def bump_data_version(mongo: Mongo, tenant: str) -> int:
    doc = await _increment(mongo, tenant, {"dataVersion": 1})
    return int(doc["dataVersion"])


async def data_version(mongo: Mongo, tenant: str) -> int:
    doc = await mongo[TENANTS].find_one({"_id": tenant}, {"dataVersion": 1})
    return int(doc["dataVersion"]) if doc else 0


async def bump_data_and_customers_version(mongo: Mongo, tenant: str) -> int:
    """A customer write: the data version, and the version customers' segments are cached by."""
    doc = await _increment(mongo, tenant, {"dataVersion": 1, "customersVersion": 1})
    return int(doc["dataVersion"])


async def customers_version(mongo: Mongo, tenant: str) -> int:
    doc = await mongo[TENANTS].find_one({"_id": tenant}, {"customersVersion": 1})
    return int(doc.get("customersVersion", 0)) if doc else 0


async def stored_settings(mongo: Mongo, tenant: str) -> dict[str, Any]:
    """The settings kept in the tenant's document (empty: the environment's defaults)."""
    doc = await mongo[TENANTS].find_one({"_id": {"$eq": tenant}}, {"settings": 1})
    found = (doc or {}).get("settings") or {}
    return dict(found)


async def create(mongo: Mongo, tenant: str, values: dict[str, object]) -> bool:
    """A tenant with its settings; False when it exists already (nothing is changed)."""
    result = await mongo[TENANTS].update_one(
        {"_id": tenant}, {"$setOnInsert": {"settings": values, "dataVersion": 0}}, upsert=True
    )
    return result.upserted_id is not None


async def set_settings(mongo: Mongo, tenant: str, values: dict[str, object]) -> None:
    if values:
        await mongo[TENANTS].update_one(
            {"_id": tenant}, {"$set": {f"settings.{k}": v for k, v in values.items()}},
            upsert=True,
        )  # fmt: skip


async def all_ids(mongo: Mongo) -> list[str]:
    """Every tenant that has a tenant document, sorted."""
    docs = await mongo[TENANTS].find({}, {"_id": 1}).to_list(None)
    return sorted(str(d["_id"]) for d in docs)
