"""Touchpoint reads for metrics: the stage visits of a journey's entry cohort.

Both reads lead with exactly what one index serves — (tenant, journey, stage, occurredAt)
for the entries, (tenant, journey, occurredAt) for the visits — and apply
every other condition after it: the embedded database's planner reads every document for
any other shape (docs/adr/0013).
"""

from __future__ import annotations

from service.domain.metrics.cells import CellFilter
from service.domain.metrics.timeframe import Window
from service.domain.records import Visit
from service.store.client import Doc, Mongo, aggregate
from service.store.indexes import TOUCHPOINTS


def _rest(flt: CellFilter) -> Doc:
    rest: Doc = {}
    if flt.segments is not None:
        rest["segments"] = {"$in": sorted(flt.segments)}
    if flt.channels is not None:
        rest["channel"] = {"$in": sorted(flt.channels)}
    return rest


def _journey(tenant: str, journey: str, occurred: Doc, stage: str | None = None) -> Doc:
    if not isinstance(journey, str) or not isinstance(stage, str | None):
        raise TypeError("journey and stage are key strings")
    match: Doc = {"tenant": tenant, "journey": journey}
    if stage is not None:
        match["stage"] = stage
    return {**match, "occurredAt": occurred}


def entries_pipeline(
    tenant: str, journey: str, first_stage: str, window: Window, flt: CellFilter
) -> list[Doc]:
    """The customers whose first visit ever to ``first_stage`` is in the window. Visits from
    the window's end on cannot change whether that first visit is in it, so they are not read."""
    rest = _rest(flt)
    return [
        {"$match": _journey(tenant, journey, {"$lt": window.end}, first_stage)},
        *([{"$match": rest}] if rest else []),
        {"$group": {"_id": "$customerId", "t": {"$min": "$occurredAt"}}},
        {"$match": {"t": {"$gte": window.start}}},
    ]


def visits_pipeline(tenant: str, journey: str, window: Window, flt: CellFilter) -> list[Doc]:
    """Every stage visit of the journey from the window's start on, oldest first."""
    return [
        {"$match": _journey(tenant, journey, {"$gte": window.start})},
        {"$match": {**_rest(flt), "stage": {"$type": "string"}}},
        {"$sort": {"occurredAt": 1, "_id": 1}},
        {"$project": {"_id": 0, "c": "$customerId", "s": "$stage", "t": "$occurredAt"}},
    ]


async def cohort_visits(
    mongo: Mongo, tenant: str, journey: str, first_stage: str, window: Window, flt: CellFilter
) -> list[Visit]:
    """The visits (customer, stage, time), oldest first, from the window's start
    on, of the customers whose first visit ever to ``first_stage`` is in the window."""
    entries = await aggregate(mongo[TOUCHPOINTS],
                              entries_pipeline(tenant, journey, first_stage, window, flt),
                              timeout_s=mongo.query_timeout_s)  # fmt: skip
    if not entries:
        return []
    # Cohort membership is checked here, by set: the embedded database checks a `$in` list
    # against every candidate, quadratic in a cohort of hundreds (ADR 5).
    cohort = {e["_id"] for e in entries}
    visits = await aggregate(mongo[TOUCHPOINTS], visits_pipeline(tenant, journey, window, flt),
                             timeout_s=mongo.query_timeout_s)  # fmt: skip
    return [Visit(customer=v["c"], stage=v["s"], at=v["t"]) for v in visits if v["c"] in cohort]
