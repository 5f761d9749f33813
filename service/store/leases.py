"""leases: short exclusive claims on a named piece of work, shared by every replica.

A lease is one document ``{_id: name, holder, expiresAt}``. ``acquire`` is one
``find_one_and_update`` with ``upsert``: it matches a lease that has lapsed (or that the
same holder already has) and takes it; a lease another holder still has does not match, so
the upsert collides with its ``_id`` and fails. A holder that crashes never releases: its
lease lapses at ``expiresAt`` and the next replica takes it. Expiry is read from the
acquiring replica's clock, so clocks must agree to well within the lease's length.

Leases make work exclusive, never correct: whatever they guard must stay right when two
holders run at once (a lease that lapsed under a slow holder).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from service.store.client import Mongo

LEASES = "leases"


async def acquire(mongo: Mongo, name: str, holder: str, seconds: float) -> bool:
    """Take the lease ``name`` for ``seconds`` unless another holder has it."""
    now = datetime.now(UTC)
    try:
        doc = await mongo[LEASES].find_one_and_update(
            {"_id": name, "$or": [{"expiresAt": {"$lte": now}}, {"holder": holder}]},
            {"$set": {"holder": holder, "expiresAt": now + timedelta(seconds=seconds)}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:  # held by someone else: the upsert met its _id
        return False
    return doc is not None and doc.get("holder") == holder


async def release(mongo: Mongo, name: str, holder: str) -> None:
    """Give the lease back, if it is still ours (it may have lapsed and been taken)."""
    await mongo[LEASES].delete_one({"_id": name, "holder": holder})


async def holder_of(mongo: Mongo, name: str) -> str | None:
    """Who holds ``name`` now (lapsed leases count as nobody's)."""
    doc = await mongo[LEASES].find_one({"_id": name, "expiresAt": {"$gt": datetime.now(UTC)}})
    return None if doc is None else str(doc["holder"])
