"""The ingestion use cases behind the mutations (and the NDJSON bulk path)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.domain import RecordStatus
from service.errors import BadUserInput
from service.ids import record_id
from service.ingest.batch import check_size, prepare
from service.ingest.bulk import Candidate, Outcome, WriteReport, content_hash, write_batch
from service.ingest.checks import Limits, RecordInvalid
from service.ingest.records import (
    JourneyStages,
    record_key,
    validate_customer,
    validate_journey,
    validate_response,
    validate_touchpoint,
)
from service.ingest.segment_cache import SegmentCache
from service.settings import Settings
from service.store import customers, journeys, rollups, tenants
from service.store.client import Doc, Mongo
from service.store.indexes import CUSTOMERS, SURVEY_RESPONSES, TOUCHPOINTS


@dataclass
class BulkOutcome:
    data_version: int
    results: list[Outcome]

    def count(self, status: RecordStatus) -> int:
        return sum(1 for r in self.results if r.status is status)


class Ingestor:
    def __init__(self, mongo: Mongo, settings: Settings) -> None:
        self.mongo = mongo
        self.settings = settings
        self.segment_cache = SegmentCache()
        self.limits = Limits(
            max_string=settings.max_string_length,
            max_comment=settings.max_comment_length,
            max_attributes_bytes=settings.max_attributes_bytes,
        )

    async def define_journey(self, tenant: str, record: Mapping[str, Any]) -> Doc:
        try:
            journey = validate_journey(record, self.limits)
        except RecordInvalid as invalid:
            e = invalid.error
            raise BadUserInput(e.message, reason=e.code, field=e.field) from None
        doc, changed = await journeys.upsert(self.mongo, tenant, journey)
        if changed:
            await tenants.bump_data_version(self.mongo, tenant)
        return doc

    async def upsert_customers(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        check_size(records, self.settings.max_batch)

        def validate(index: int, record: Mapping[str, Any]) -> Candidate:
            content = validate_customer(record, self.limits)
            return self._candidate(CUSTOMERS, tenant, index, record, content)

        candidates, rejected = prepare(records, validate)
        report = await write_batch(self.mongo[CUSTOMERS], candidates)
        changed = await customers.apply_segments_to_pending(
            self.mongo, tenant, report.promoted_stubs
        )
        await self._bump_rollup_days(tenant, changed)
        return await self._finish(tenant, len(records), rejected, report, customers=True)

    async def record_touchpoints(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        return await self._write_customer_records(tenant, records, TOUCHPOINTS)

    async def submit_survey_responses(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        return await self._write_customer_records(tenant, records, SURVEY_RESPONSES)

    async def _write_customer_records(
        self, tenant: str, records: Sequence[Any], collection: str
    ) -> BulkOutcome:
        """Touchpoints and responses: both point at a customer and snapshot its segments."""
        check_size(records, self.settings.max_batch)
        stages = await journeys.stage_map(self.mongo, tenant)

        def validate(index: int, record: Mapping[str, Any]) -> Candidate:
            content = self._validate_customer_record(collection, record, stages)
            candidate = self._candidate(collection, tenant, index, record, content)
            ref = content["customerRef"]
            candidate.doc["customerId"] = record_id(
                CUSTOMERS, tenant, ref["source"], ref["externalId"]
            )
            if content.get("touchpointRef"):
                tp = content["touchpointRef"]
                candidate.doc["touchpointId"] = record_id(
                    TOUCHPOINTS, tenant, tp["source"], tp["externalId"]
                )
            return candidate

        candidates, rejected = prepare(records, validate)
        segments = await self._segments(tenant, candidates)
        for c in candidates:
            known = segments.get(c.doc["customerId"])
            c.doc["segments"] = known or []
            if known is None:
                c.doc["segmentsPending"] = True
        report = await write_batch(self.mongo[collection], candidates)
        # A customer record may have landed between our read and our write: apply it now.
        stubs = sorted({c.doc["customerId"] for c in candidates if c.doc.get("segmentsPending")})
        changed = await customers.apply_segments_to_pending(self.mongo, tenant, stubs)
        if collection == SURVEY_RESPONSES:
            changed += self._changed_times(candidates, report)
        await self._bump_rollup_days(tenant, changed)
        return await self._finish(tenant, len(records), rejected, report)

    async def _segments(
        self, tenant: str, candidates: list[Candidate]
    ) -> dict[str, list[str] | None]:
        """Each candidate's customer's segments: remembered ones, then a lookup (and stubs)."""
        version = await tenants.customers_version(self.mongo, tenant)
        ids = {c.doc["customerId"] for c in candidates}
        known = self.segment_cache.known(tenant, version, ids)
        refs = {(c.doc["customerRef"]["source"], c.doc["customerRef"]["externalId"])
                for c in candidates if c.doc["customerId"] not in known}  # fmt: skip
        if refs:
            found = await customers.segments_with_stubs(self.mongo, tenant, refs)
            self.segment_cache.remember(tenant, version, found)
            known.update(found)
        return known

    @staticmethod
    def _changed_times(candidates: list[Candidate], report: WriteReport) -> list[datetime]:
        """When the written responses were submitted, and when updated ones were before."""
        times = []
        for c in candidates:
            outcome = report.outcomes.get(c.index)
            if outcome and outcome.status in (RecordStatus.INSERTED, RecordStatus.UPDATED):
                times.append(c.doc["submittedAt"])
                before = report.previous.get(c.doc["_id"], {}).get("submittedAt")
                if before is not None:
                    times.append(before)
        return times

    async def _bump_rollup_days(self, tenant: str, times: list[datetime]) -> None:
        if times:
            tz = ZoneInfo(self.settings.timezone)
            await rollups.bump_days(self.mongo, tenant, {rollups.day_key(t, tz) for t in times})

    def _validate_customer_record(
        self, collection: str, record: Mapping[str, Any], stages: JourneyStages
    ) -> dict[str, Any]:
        if collection == TOUCHPOINTS:
            return validate_touchpoint(record, self.limits, stages)[0]
        return validate_response(record, self.limits, stages)[0]

    @staticmethod
    def _candidate(
        collection: str, tenant: str, index: int, record: Mapping[str, Any], content: Doc
    ) -> Candidate:
        key = record_key(record)
        doc = {
            "_id": record_id(collection, tenant, key.source, key.external_id),
            "tenant": tenant,
            "source": key.source,
            "externalId": key.external_id,
            "contentHash": content_hash(content),
            **content,
        }
        return Candidate(index=index, doc=doc)

    async def _finish(
        self,
        tenant: str,
        size: int,
        rejected: dict[int, Outcome],
        report: WriteReport,
        customers: bool = False,
    ) -> BulkOutcome:
        outcomes = {**rejected, **report.outcomes}
        if report.changed and customers:
            version = await tenants.bump_data_and_customers_version(self.mongo, tenant)
        elif report.changed:
            version = await tenants.bump_data_version(self.mongo, tenant)
        else:
            version = await tenants.data_version(self.mongo, tenant)
        return BulkOutcome(data_version=version, results=[outcomes[i] for i in range(size)])
