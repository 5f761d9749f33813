"""Read-side use cases: records and journeys for the frontend queries."""

from __future__ import annotations

from service.domain.errors import BadUserInput
from service.domain.ids import record_id
from service.domain.records import (
    CustomerRecord,
    JourneyRecord,
    Page,
    RecordFilter,
    SurveyResponseRecord,
    TouchpointRecord,
)
from service.settings import Settings
from service.store import customers, journeys, record_pages
from service.store.client import Mongo
from service.store.indexes import CUSTOMERS
from service.store.pagination import page_size


class Reader:
    def __init__(self, mongo: Mongo, settings: Settings) -> None:
        self.mongo = mongo
        self.settings = settings

    async def journeys(self, tenant: str) -> list[JourneyRecord]:
        return await journeys.list_all(self.mongo, tenant)

    async def journey(self, tenant: str, key: str) -> JourneyRecord | None:
        return await journeys.get(self.mongo, tenant, key)

    async def stage_names(self, tenant: str, journey_key: str) -> dict[str, str]:
        journey = await journeys.get(self.mongo, tenant, journey_key)
        return {s.key: s.name for s in journey.stages} if journey else {}

    async def customer(self, tenant: str, customer_id: str) -> CustomerRecord | None:
        return await customers.get(self.mongo, tenant, customer_id)

    async def customer_by_ref(
        self, tenant: str, source: str, external_id: str
    ) -> CustomerRecord | None:
        return await self.customer(tenant, record_id(CUSTOMERS, tenant, source, external_id))

    async def customers_by_id(self, tenant: str, ids: list[str]) -> list[CustomerRecord | None]:
        found = await customers.get_many(self.mongo, tenant, ids)
        return [found.get(i) for i in ids]

    async def customers(
        self, tenant: str, segment: str | None, first: int | None, after: str | None
    ) -> Page[CustomerRecord]:
        return await record_pages.customers(self.mongo, tenant, segment, self._size(first), after)

    async def touchpoints(
        self, tenant: str, flt: RecordFilter, first: int | None, after: str | None,
        newest_first: bool = False,
    ) -> Page[TouchpointRecord]:  # fmt: skip
        size = self._checked(flt, first)
        return await record_pages.touchpoints(self.mongo, tenant, flt, size, after, newest_first)

    async def survey_responses(
        self, tenant: str, flt: RecordFilter, first: int | None, after: str | None,
        newest_first: bool = False,
    ) -> Page[SurveyResponseRecord]:  # fmt: skip
        size = self._checked(flt, first)
        return await record_pages.survey_responses(self.mongo, tenant, flt, size, after,
                                                   newest_first)  # fmt: skip

    def _checked(self, flt: RecordFilter, first: int | None) -> int:
        """Arguments are checked before any I/O."""
        size = self._size(first)
        if flt.start and flt.end and flt.end <= flt.start:
            raise BadUserInput("the window is empty or reversed: `to` must be after `from`",
                               reason="INVALID_WINDOW")  # fmt: skip
        return size

    def _size(self, first: int | None) -> int:
        return page_size(first, self.settings.default_page_size, self.settings.max_page_size)
