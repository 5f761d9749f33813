"""Touchpoint reads for metrics: the stage visits of a journey's entry cohort."""

from __future__ import annotations

from service.metrics.cells import CellFilter
from service.metrics.timeframe import Window
from service.store.client import Doc, Mongo, aggregate, to_list
from service.store.indexes import TOUCHPOINTS


def _match(tenant: str, journey: str, flt: CellFilter) -> Doc:
    match: Doc = {"tenant": tenant, "journey": {"$eq": journey}, "stage": {"$type": "string"}}
    if flt.segments is not None:
        match["segments"] = {"$in": sorted(flt.segments)}
    if flt.channels is not None:
        match["channel"] = {"$in": sorted(flt.channels)}
    return match


async def cohort_visits(
    mongo: Mongo, tenant: str, journey: str, first_stage: str, window: Window, flt: CellFilter
) -> list[Doc]:
    """The visits ``{c, s, t}`` (customer, stage, time), oldest first, from the window's start
    on, of the customers whose first visit ever to ``first_stage`` is in the window."""
    entries = await aggregate(mongo[TOUCHPOINTS], [
        {"$match": {**_match(tenant, journey, flt), "stage": {"$eq": first_stage}}},
        {"$group": {"_id": "$customerId", "t": {"$min": "$occurredAt"}}},
        {"$match": {"t": {"$gte": window.start, "$lt": window.end}}},
    ], timeout_s=mongo.query_timeout_s)  # fmt: skip
    if not entries:
        return []
    query = {**_match(tenant, journey, flt), "customerId": {"$in": [e["_id"] for e in entries]},
             "occurredAt": {"$gte": window.start}}  # fmt: skip
    cursor = mongo[TOUCHPOINTS].find(query, {"customerId": 1, "stage": 1, "occurredAt": 1})
    rows = await to_list(cursor.sort([("occurredAt", 1), ("_id", 1)]))
    return [{"c": r["customerId"], "s": r["stage"], "t": r["occurredAt"]} for r in rows]
