"""The ingestion use cases behind the mutations (and the NDJSON bulk path)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.errors import BadUserInput
from service.domain.ids import record_id
from service.domain.ingest.checks import Limits, RecordInvalid
from service.domain.model import RecordStatus
from service.domain.records import JourneyRecord
from service.domain.search_terms import terms
from service.ingest.announce import Announcer, written_records
from service.ingest.batch import check_size, prepare
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
from service.store import (
    customers,
    erasure,
    journeys,
    rollup_chunks,
    rollups,
    tenants,
    write_intents,
)
from service.store.bulk import Candidate, Outcome, WriteReport, content_hash, write_batch
from service.store.client import Doc, Mongo
from service.store.erasure import Erased
from service.store.indexes import CUSTOMERS, SURVEY_RESPONSES, TOUCHPOINTS
from service.store.rollup_chunks import Chunk
from service.store.write_intents import WriteIntent
from service.tenancy.directory import TenantDirectory
from service.tenancy.version_feed import VersionFeed


@dataclass
class BulkOutcome:
    data_version: int
    results: list[Outcome]

    def count(self, status: RecordStatus) -> int:
        return sum(1 for r in self.results if r.status is status)


class Ingestor:
    def __init__(
        self,
        mongo: Mongo,
        settings: Settings,
        tenants: TenantDirectory | None = None,
        versions: VersionFeed | None = None,
    ) -> None:
        self.mongo = mongo
        self.settings = settings
        self.versions = versions
        self.tenants = tenants or TenantDirectory(mongo, settings)
        self.segment_cache = SegmentCache()
        # Told the rollup days each write marked written (the background warmer, ADR 0023).
        self.on_days_written: Callable[[str, set[str]], None] | None = None
        self.announcer: Announcer | None = None  # webhooks: told what each write stored
        self.limits = Limits(
            max_string=settings.max_string_length,
            max_comment=settings.max_comment_length,
            max_attributes_bytes=settings.max_attributes_bytes,
        )

    async def define_journey(self, tenant: str, record: Mapping[str, Any]) -> JourneyRecord:
        try:
            journey = validate_journey(record, self.limits)
        except RecordInvalid as invalid:
            e = invalid.error
            raise BadUserInput(e.message, reason=e.code, field=e.field) from None
        stored, changed = await journeys.upsert(self.mongo, tenant, journey)
        if changed:
            self._seen(tenant, await tenants.bump_data_version(self.mongo, tenant))
        return stored

    async def upsert_customers(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        check_size(records, self.settings.max_batch)

        def validate(index: int, record: Mapping[str, Any]) -> Candidate:
            content = validate_customer(record, self.limits)
            return self._candidate(CUSTOMERS, tenant, index, record, content)

        candidates, rejected = prepare(records, validate)
        ids = [c.doc["_id"] for c in candidates]
        intent = await self._open(tenant, ids, days=[], customer_ids=ids, customers_written=True)
        report = await write_batch(self.mongo, CUSTOMERS, candidates)
        version = await self._settle(
            tenant, intent, report, days=set(), stubs=report.promoted_stubs
        )
        return self._outcome(version, len(records), rejected, report)

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
            if collection == SURVEY_RESPONSES:  # derived, outside the content hash
                candidate.doc["commentTerms"] = terms(content.get("comment"))
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
        stubs = sorted({c.doc["customerId"] for c in candidates if c.doc.get("segmentsPending")})
        responses = collection == SURVEY_RESPONSES
        tz = (await self.tenants.get(tenant)).tz  # rollup days are the tenant's local days
        days = _days((c.doc["submittedAt"] for c in candidates), tz) if responses else set()
        intent = await self._open(tenant, [c.doc["_id"] for c in candidates], days, stubs)

        async def remember_old_days(previous: list[Doc]) -> None:
            # An update may move a response to another day: that day is owed a bump too.
            if responses:
                old = _days((d["submittedAt"] for d in previous if d.get("submittedAt")), tz)
                await write_intents.add_days(self.mongo, intent, old)

        report = await write_batch(self.mongo, collection, candidates, remember_old_days)
        changed = _days(self._changed_times(candidates, report), tz) if responses else set()
        chunk = _chunk(candidates, report, tz) if responses and not stubs else None
        # A customer record may have landed between our read and our write: `stubs` also
        # gets its segments applied now.
        version = await self._settle(tenant, intent, report, days=changed, stubs=stubs,
                                     announce=candidates if responses else None,
                                     chunk=chunk)  # fmt: skip
        return self._outcome(version, len(records), rejected, report)

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

    async def _open(
        self,
        tenant: str,
        record_ids: list[str],
        days: Iterable[str],
        customer_ids: Iterable[str],
        customers_written: bool = False,
    ) -> WriteIntent | None:
        if not record_ids:
            return None
        return await write_intents.open_intent(
            self.mongo, tenant, days, customer_ids, record_ids, customers_written
        )

    async def _settle(
        self,
        tenant: str,
        intent: WriteIntent | None,
        report: WriteReport,
        days: set[str],
        stubs: list[str],
        announce: list[Candidate] | None = None,
        chunk: Chunk | None = None,
    ) -> int:
        """Apply this write's effects, and those of earlier writes it overlaps that never
        finished (the batch a client resends after a failure), announce the responses it
        stored (``announce``: its candidates), then close its intent."""
        if intent is None:
            return await tenants.data_version(self.mongo, tenant)
        unfinished = [
            other
            for other in await write_intents.pending(self.mongo, tenant)
            if other.id != intent.id and other.at <= intent.at and other.overlaps(intent)
        ]
        others: set[str] = set()
        for other in unfinished:
            others |= other.days
        customer_ids = set(stubs).union(*(o.customers for o in unfinished))
        customers_changed = intent.customers_written and report.changed
        customers_changed |= any(o.customers_written for o in unfinished)
        version = await self.apply_effects(
            tenant, days | others, customer_ids, report.changed or bool(unfinished),
            customers_changed, chunk=chunk, intent=intent, not_chunked=others,
        )  # fmt: skip
        if announce is not None and self.announcer is not None:
            written = written_records(announce, report, intent, unfinished)
            if written:
                await self.announcer.responses_written(tenant, version, written)
        await write_intents.close_intent(self.mongo, intent)
        return version

    async def apply_effects(
        self,
        tenant: str,
        days: set[str],
        customer_ids: set[str],
        changed: bool,
        customers_changed: bool,
        chunk: Chunk | None = None,
        intent: WriteIntent | None = None,
        not_chunked: set[str] | None = None,
    ) -> int:
        """A write's side effects, each safe to apply again: copy segments to records stored
        while their customer was a stub, mark rollup days as written (with what this batch
        added to them, when that is all that changed: docs/adr/0024), bump the versions."""
        moved = await customers.apply_segments_to_pending(self.mongo, tenant, sorted(customer_ids))
        tz = (await self.tenants.get(tenant)).tz
        moved_days = _days(moved, tz)
        days = days | moved_days
        chunk_days = set()
        if chunk is not None and intent is not None and chunk.tz == tz:
            chunk_days = chunk.days - moved_days - (not_chunked or set())
        if chunk_days:
            assert chunk is not None and intent is not None
            blob = rollup_chunks.encode(chunk, chunk_days)
            if not await write_intents.seal(self.mongo, intent):
                chunk_days = set()  # recovered meanwhile: its bumps may already be applied
            await rollups.bump_days_with_chunk(
                self.mongo, tenant, days, tz, intent.id, (chunk_days, blob)
            )
        elif days:
            await rollups.bump_days(self.mongo, tenant, days, tz)
        if days and self.on_days_written is not None:
            self.on_days_written(tenant, days)
        if customers_changed:
            return self._seen(
                tenant, await tenants.bump_data_and_customers_version(self.mongo, tenant)
            )
        if changed or days:
            return self._seen(tenant, await tenants.bump_data_version(self.mongo, tenant))
        return await tenants.data_version(self.mongo, tenant)

    async def erase_customer(
        self, tenant: str, source: str, external_id: str, credential: str
    ) -> tuple[Erased, int]:
        """Remove a customer's personal data; its anonymous answers stay. The data version
        moves (cached customer-level answers must not show erased fields)."""
        customer_id = record_id(CUSTOMERS, tenant, source, external_id)
        erased = await erasure.erase_customer(self.mongo, tenant, customer_id, credential)
        version = await tenants.bump_data_and_customers_version(self.mongo, tenant)
        return erased, self._seen(tenant, version)

    def _seen(self, tenant: str, version: int) -> int:
        """A version this write produced: the replica's readers know it at once."""
        return self.versions.observe(tenant, version) if self.versions else version

    async def recover_abandoned(self, older_than: timedelta) -> int:
        """Apply, then delete, the intents of writes that never finished (a killed pod, a
        write nobody resent). Returns how many it recovered."""
        found = await write_intents.abandoned(self.mongo, older_than)
        for intent in found:
            version = await self.apply_effects(
                intent.tenant, set(intent.days), set(intent.customers), True,
                intent.customers_written,
            )  # fmt: skip
            if self.announcer is not None:
                await self.announcer.write_recovered(intent.tenant, version, intent.id,
                                                     intent.records)  # fmt: skip
            await write_intents.close_intent(self.mongo, intent)
        return len(found)

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

    @staticmethod
    def _outcome(
        version: int, size: int, rejected: dict[int, Outcome], report: WriteReport
    ) -> BulkOutcome:
        outcomes = {**rejected, **report.outcomes}
        return BulkOutcome(data_version=version, results=[outcomes[i] for i in range(size)])


def _chunk(candidates: list[Candidate], report: WriteReport, tz: ZoneInfo) -> Chunk | None:
    """What the batch added to the rollups, if it only added: an updated record changes
    what is already counted, which only a scan of its days sees."""
    inserted = []
    for c in candidates:
        outcome = report.outcomes.get(c.index)
        if outcome is None:
            continue
        if outcome.status is RecordStatus.UPDATED:
            return None
        if outcome.status is RecordStatus.INSERTED:
            inserted.append(c.doc)
    return rollup_chunks.build(inserted, tz, rollups.day_window) if inserted else None


def _days(times: Iterable[datetime], tz: ZoneInfo) -> set[str]:
    return {rollups.day_key(t, tz) for t in times}
