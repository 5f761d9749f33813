"""api_keys: one document per key — its tenant, scopes, name and hash; never the key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from service.store.client import Mongo, to_list
from service.store.indexes import API_KEYS


@dataclass(frozen=True)
class StoredKey:
    id: str
    tenant: str
    scopes: tuple[str, ...]
    name: str
    hash: str
    created_at: datetime
    revoked_at: datetime | None


def _from_doc(doc: dict[str, object]) -> StoredKey:
    created, revoked = doc["createdAt"], doc.get("revokedAt")
    assert isinstance(created, datetime)
    assert revoked is None or isinstance(revoked, datetime)
    scopes = doc.get("scopes") or []
    assert isinstance(scopes, list)
    return StoredKey(id=str(doc["_id"]), tenant=str(doc["tenant"]),
                     scopes=tuple(str(s) for s in scopes), name=str(doc.get("name", "")),
                     hash=str(doc["hash"]), created_at=created, revoked_at=revoked)  # fmt: skip


async def insert(
    mongo: Mongo, key_id: str, tenant: str, scopes: list[str], name: str, digest: str
) -> StoredKey:
    doc = {"_id": key_id, "tenant": tenant, "scopes": scopes, "name": name, "hash": digest,
           "createdAt": datetime.now(UTC), "revokedAt": None}  # fmt: skip
    await mongo[API_KEYS].insert_one(doc)
    return _from_doc(doc)


async def get(mongo: Mongo, key_id: str) -> StoredKey | None:
    doc = await mongo[API_KEYS].find_one({"_id": {"$eq": key_id}})
    return _from_doc(doc) if doc else None


async def list_all(mongo: Mongo, tenant: str | None = None) -> list[StoredKey]:
    query = {} if tenant is None else {"tenant": {"$eq": tenant}}
    return [_from_doc(d) for d in await to_list(mongo[API_KEYS].find(query).sort("_id", 1))]


async def revoke(mongo: Mongo, key_id: str) -> bool:
    result = await mongo[API_KEYS].update_one(
        {"_id": {"$eq": key_id}, "revokedAt": None}, {"$set": {"revokedAt": datetime.now(UTC)}}
    )
    return bool(result.modified_count)
