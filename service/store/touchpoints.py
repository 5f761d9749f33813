"""Touchpoint reads for metrics: a journey's stage visits in a window."""

from __future__ import annotations

from service.metrics.cells import CellFilter
from service.metrics.timeframe import Window
from service.store.client import Doc, Mongo, aggregate
from service.store.indexes import TOUCHPOINTS


async def first_visits(
    mongo: Mongo, tenant: str, journey: str, window: Window, flt: CellFilter
) -> list[Doc]:
    """Each (customer, stage) of the journey with its first touchpoint time in the window."""
    match: Doc = {"tenant": tenant, "journey": {"$eq": journey}, "stage": {"$type": "string"},
                  "occurredAt": {"$gte": window.start, "$lt": window.end}}  # fmt: skip
    if flt.segments is not None:
        match["segments"] = {"$in": sorted(flt.segments)}
    if flt.channels is not None:
        match["channel"] = {"$in": sorted(flt.channels)}
    return await aggregate(mongo[TOUCHPOINTS], [
        {"$match": match},
        {"$group": {"_id": {"c": "$customerId", "s": "$stage"}, "t": {"$min": "$occurredAt"}}},
    ], timeout_s=mongo.query_timeout_s)  # fmt: skip
