"""Pages of the record lists: which index serves a filter, and the page read through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.domain.records import (
    CustomerRecord,
    Page,
    RecordFilter,
    SurveyResponseRecord,
    TouchpointRecord,
)
from service.store import decode
from service.store.client import Doc, Mongo
from service.store.indexes import CUSTOMERS, SURVEY_RESPONSES, TOUCHPOINTS
from service.store.pagination import paginate

TIME_FIELD = {TOUCHPOINTS: "occurredAt", SURVEY_RESPONSES: "submittedAt"}

# The filters that pick a page's index, most selective first; each has an index
# (tenant, fields…, time) in service/store/indexes.py. Without one, the time index serves.
_DRIVERS: dict[str, tuple[tuple[str, ...], ...]] = {
    TOUCHPOINTS: (("customerId",), ("journey", "stage"), ("journey",)),
    SURVEY_RESPONSES: (("customerId",), ("commentTerms",)),
}


def _bare(value: str) -> str:
    # A typed string is bound as a bare equality, never parsed as an operator: the embedded
    # database's planner only matches bare equalities to an index prefix.
    if not isinstance(value, str):
        raise TypeError(f"filter values are strings, got {type(value).__name__}")
    return value


def record_query(collection: str, tenant: str, flt: RecordFilter) -> tuple[Doc, Doc]:
    """The (indexed, residual) halves of a record list's filter: the first is what one index
    serves, the second everything else (see service/store/pagination.py)."""
    equal: Doc = {field: _bare(value) for field, value in (
        ("customerId", flt.customer_id), ("journey", flt.journey),
        ("stage", flt.stage), ("channel", flt.channel),
        ("commentTerms", flt.terms[0] if flt.terms else None),
    ) if value is not None}  # fmt: skip
    driver = next((d for d in _DRIVERS[collection] if all(f in equal for f in d)), ())
    indexed: Doc = {"tenant": tenant}
    for field in driver:
        indexed[field] = equal.pop(field)
    if len(flt.terms) > 1 or "commentTerms" in equal:  # every word, as values (never operators)
        equal["commentTerms"] = {"$all": [_bare(t) for t in flt.terms]}
    window: dict[str, Any] = {}
    if flt.start is not None:
        window["$gte"] = flt.start
    if flt.end is not None:
        window["$lt"] = flt.end
    if window:
        indexed[TIME_FIELD[collection]] = window
    return indexed, equal


async def customers(
    mongo: Mongo, tenant: str, segment: str | None, size: int, after: str | None
) -> Page[CustomerRecord]:
    query: Doc = {"tenant": tenant}
    if segment is not None:
        query["segments"] = _bare(segment)
    return await paginate(mongo[CUSTOMERS], query, "_id", size, after, decode.customer)


async def touchpoints(
    mongo: Mongo, tenant: str, flt: RecordFilter, size: int, after: str | None,
    newest_first: bool,
) -> Page[TouchpointRecord]:  # fmt: skip
    return await _records(mongo, TOUCHPOINTS, tenant, flt, size, after, newest_first,
                          decode.touchpoint)  # fmt: skip


async def survey_responses(
    mongo: Mongo, tenant: str, flt: RecordFilter, size: int, after: str | None,
    newest_first: bool,
) -> Page[SurveyResponseRecord]:  # fmt: skip
    return await _records(mongo, SURVEY_RESPONSES, tenant, flt, size, after, newest_first,
                          decode.survey_response)  # fmt: skip


async def _records(
    mongo: Mongo, collection: str, tenant: str, flt: RecordFilter, size: int,
    after: str | None, newest_first: bool, to_record: Callable[[Doc], Any],
) -> Page[Any]:  # fmt: skip
    indexed, residual = record_query(collection, tenant, flt)
    # One customer's records are few: one read. Anything wider is read in time slices.
    in_slices = "customerId" not in indexed
    return await paginate(mongo[collection], indexed, TIME_FIELD[collection], size, after,
                          to_record, residual=residual, descending=newest_first,
                          in_slices=in_slices)  # fmt: skip
