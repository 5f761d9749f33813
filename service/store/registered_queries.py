"""registered_queries: the documents `cxgraph queries register` allowed (docs/adr/0023).

One document per registered GraphQL document, global (not per tenant): ``_id`` is the hash
of its normalised text (the response cache's: whitespace, comments and argument order do
not change it), ``text`` what runs when a client sends it by hash, ``hashes`` the SHA-256
of the texts a client may send (Apollo's persisted-query hash), ``operations`` its
operation names. Small (one entry per operation a client ships), read by ``_id`` or by
hash, so it needs no index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from service.store.client import Mongo, to_list

REGISTERED_QUERIES = "registered_queries"


@dataclass(frozen=True)
class Registered:
    digest: str  # of the normalised document
    text: str
    operations: tuple[str, ...]
    hashes: tuple[str, ...]  # sha256 of texts clients send as they are
    source: str
    registered_at: datetime


def _from_doc(doc: dict[str, Any]) -> Registered:
    at = doc["registeredAt"]
    assert isinstance(at, datetime)
    return Registered(
        digest=str(doc["_id"]),
        text=str(doc["text"]),
        operations=tuple(doc.get("operations") or ()),
        hashes=tuple(doc.get("hashes") or ()),
        source=str(doc.get("source", "")),
        registered_at=at,
    )


async def register(
    mongo: Mongo, digest: str, text: str, operations: list[str], hashes: list[str], source: str
) -> bool:
    """Keep a document (True if it is new; registering again only adds hashes)."""
    result = await mongo[REGISTERED_QUERIES].update_one(
        {"_id": digest},
        {"$setOnInsert": {"text": text, "operations": operations, "source": source,
                          "registeredAt": datetime.now(UTC)},
         "$addToSet": {"hashes": {"$each": hashes}}},
        upsert=True,
    )  # fmt: skip
    return result.upserted_id is not None


async def find(mongo: Mongo, digest_or_hash: str) -> Registered | None:
    """By the normalised hash, or by the SHA-256 of a registered text."""
    doc = await mongo[REGISTERED_QUERIES].find_one(
        {"$or": [{"_id": {"$eq": digest_or_hash}}, {"hashes": {"$eq": digest_or_hash}}]}
    )
    return None if doc is None else _from_doc(doc)


async def list_all(mongo: Mongo) -> list[Registered]:
    docs = await to_list(mongo[REGISTERED_QUERIES].find({}).sort("registeredAt", 1))
    return [_from_doc(d) for d in docs]


async def remove(mongo: Mongo, digest: str) -> bool:
    result = await mongo[REGISTERED_QUERIES].delete_one({"_id": {"$eq": digest}})
    return bool(result.deleted_count == 1)
