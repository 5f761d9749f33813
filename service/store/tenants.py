"""The tenants collection: per-tenant settings and the data version every write bumps."""

from __future__ import annotations

from pymongo import ReturnDocument

from service.store.client import Mongo
from service.store.indexes import TENANTS


async def bump_data_version(mongo: Mongo, tenant: str) -> int:
    doc = await mongo[TENANTS].find_one_and_update(
        {"_id": tenant},
        {"$inc": {"dataVersion": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int(doc["dataVersion"])


async def data_version(mongo: Mongo, tenant: str) -> int:
    doc = await mongo[TENANTS].find_one({"_id": tenant}, {"dataVersion": 1})
    return int(doc["dataVersion"]) if doc else 0


async def bump_data_and_customers_version(mongo: Mongo, tenant: str) -> int:
    """A customer write: the data version, and the version customers' segments are cached by."""
    doc = await mongo[TENANTS].find_one_and_update(
        {"_id": tenant},
        {"$inc": {"dataVersion": 1, "customersVersion": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return int(doc["dataVersion"])


async def customers_version(mongo: Mongo, tenant: str) -> int:
    doc = await mongo[TENANTS].find_one({"_id": tenant}, {"customersVersion": 1})
    return int(doc.get("customersVersion", 0)) if doc else 0
