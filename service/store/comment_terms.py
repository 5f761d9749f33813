"""Backfill of ``commentTerms``, the words of a survey comment that search reads.

Responses written before the words were stored have a comment and no words, so no search
finds them until this has run (``cxgraph comments reindex``). Each tenant that had any gets
its data version bumped, so no cached answer from before survives.
"""

from __future__ import annotations

from pymongo import UpdateOne

from service.domain.search_terms import terms
from service.store import tenants
from service.store.client import Mongo, to_list
from service.store.indexes import SURVEY_RESPONSES

BATCH = 500
MISSING = {"comment": {"$type": "string"}, "commentTerms": {"$exists": False}}


async def backfill(mongo: Mongo, batch: int = BATCH) -> dict[str, int]:
    """Store the words of every comment that has none; responses filled, per tenant."""
    filled: dict[str, int] = {}
    collection = mongo[SURVEY_RESPONSES]
    while True:
        docs = await to_list(collection.find(MISSING, {"tenant": 1, "comment": 1}).limit(batch))
        if not docs:
            break
        await collection.bulk_write([
            UpdateOne({"_id": d["_id"], **MISSING}, {"$set": {"commentTerms": terms(d["comment"])}})
            for d in docs
        ], ordered=False)  # fmt: skip
        for d in docs:
            filled[d["tenant"]] = filled.get(d["tenant"], 0) + 1
    for tenant in filled:
        await tenants.bump_data_version(mongo, tenant)
    return filled
