"""Read-side use cases: records and journeys for the frontend queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.errors import BadUserInput
from service.ids import record_id
from service.settings import Settings
from service.store import customers, journeys
from service.store.client import Doc, Mongo
from service.store.indexes import CUSTOMERS, SURVEY_RESPONSES, TOUCHPOINTS
from service.store.pagination import Page, page_size, paginate


@dataclass(frozen=True)
class RecordFilter:
    """Filters of the touchpoint and survey-response lists; every one is optional."""

    customer_id: str | None = None
    journey: str | None = None
    stage: str | None = None
    channel: str | None = None
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


TIME_FIELD = {TOUCHPOINTS: "occurredAt", SURVEY_RESPONSES: "submittedAt"}

# The filters that pick a page's index, most selective first; each has an index
# (tenant, fields…, time) in service/store/indexes.py. Without one, the time index serves.
_DRIVERS: dict[str, tuple[tuple[str, ...], ...]] = {
    TOUCHPOINTS: (("customerId",), ("journey", "stage"), ("journey",)),
    SURVEY_RESPONSES: (("customerId",),),
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
    equal = {field: _bare(value) for field, value in (
        ("customerId", flt.customer_id), ("journey", flt.journey),
        ("stage", flt.stage), ("channel", flt.channel),
    ) if value is not None}  # fmt: skip
    driver = next((d for d in _DRIVERS[collection] if all(f in equal for f in d)), ())
    indexed: Doc = {"tenant": tenant}
    for field in driver:
        indexed[field] = equal.pop(field)
    window: dict[str, Any] = {}
    if flt.start is not None:
        window["$gte"] = flt.start
    if flt.end is not None:
        window["$lt"] = flt.end
    if window:
        indexed[TIME_FIELD[collection]] = window
    return indexed, equal


class Reader:
    def __init__(self, mongo: Mongo, settings: Settings) -> None:
        self.mongo = mongo
        self.settings = settings

    async def journeys(self, tenant: str) -> list[Doc]:
        return await journeys.list_all(self.mongo, tenant)

    async def journey(self, tenant: str, key: str) -> Doc | None:
        return await journeys.get(self.mongo, tenant, key)

    async def stage_names(self, tenant: str, journey_key: str) -> dict[str, str]:
        doc = await journeys.get(self.mongo, tenant, journey_key)
        return {s["key"]: s["name"] for s in doc["stages"]} if doc else {}

    async def customer(self, tenant: str, customer_id: str) -> Doc | None:
        return await customers.get(self.mongo, tenant, customer_id)

    async def customer_by_ref(self, tenant: str, source: str, external_id: str) -> Doc | None:
        return await self.customer(tenant, record_id(CUSTOMERS, tenant, source, external_id))

    async def customers_by_id(self, tenant: str, ids: list[str]) -> list[Doc | None]:
        found = await customers.get_many(self.mongo, tenant, ids)
        return [found.get(i) for i in ids]

    async def customers(
        self, tenant: str, segment: str | None, first: int | None, after: str | None
    ) -> Page:
        size = self._size(first)
        query: Doc = {"tenant": tenant}
        if segment is not None:
            query["segments"] = _bare(segment)
        return await paginate(self.mongo[CUSTOMERS], query, "_id", size, after)

    async def touchpoints(
        self, tenant: str, flt: RecordFilter, first: int | None, after: str | None,
        newest_first: bool = False,
    ) -> Page:  # fmt: skip
        return await self._records(TOUCHPOINTS, tenant, flt, first, after, newest_first)

    async def survey_responses(
        self, tenant: str, flt: RecordFilter, first: int | None, after: str | None,
        newest_first: bool = False,
    ) -> Page:  # fmt: skip
        return await self._records(SURVEY_RESPONSES, tenant, flt, first, after, newest_first)

    async def _records(
        self, collection: str, tenant: str, flt: RecordFilter, first: int | None,
        after: str | None, newest_first: bool,
    ) -> Page:  # fmt: skip
        size = self._size(first)  # check arguments before any I/O
        if flt.start and flt.end and flt.end <= flt.start:
            raise BadUserInput("the window is empty or reversed: `to` must be after `from`",
                               reason="INVALID_WINDOW")  # fmt: skip
        indexed, residual = record_query(collection, tenant, flt)
        # One customer's records are few: one read. Anything wider is read in time slices.
        in_slices = "customerId" not in indexed
        return await paginate(self.mongo[collection], indexed, TIME_FIELD[collection], size,
                              after, residual=residual, descending=newest_first,
                              in_slices=in_slices)  # fmt: skip

    def _size(self, first: int | None) -> int:
        return page_size(first, self.settings.default_page_size, self.settings.max_page_size)
