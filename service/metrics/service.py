"""The metric use cases behind the GraphQL queries: compute, shape, cache."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from service.cache.codec import Codec
from service.domain.errors import BadUserInput, CxError, NotFound
from service.domain.metrics import formulas, retention, support
from service.domain.metrics.cells import CellFilter, GroupKey
from service.domain.metrics.driver_results import CACHED_TYPES as DRIVER_TYPES
from service.domain.metrics.formulas import Distribution, MetricValue, Sample
from service.domain.metrics.funnel import FunnelStep, funnel
from service.domain.metrics.query import (
    CUSTOMER_KINDS,
    SURVEY_FAMILY,
    IncompatibleDirections,
    IncompatibleScales,
    MetricQuery,
    PeriodKey,
)
from service.domain.metrics.results import Comparison, MetricResult
from service.domain.metrics.significance import check_comparable, p_value
from service.domain.metrics.timeframe import Window
from service.domain.model import Dimension, MetricKind
from service.metrics import survey
from service.settings import Settings
from service.store import cases, customers, journeys, tenants, touchpoints
from service.store.client import Mongo
from service.tenancy.directory import TenantDirectory
from service.tenancy.version_feed import VersionFeed

Computed = dict[tuple[PeriodKey, GroupKey], MetricValue]


class DataVersionNotReached(CxError):
    code = "DATA_VERSION_NOT_REACHED"


class MetricsService:
    def __init__(
        self, mongo: Mongo, settings: Settings, cache: Any,
        tenants: TenantDirectory | None = None,
        versions: VersionFeed | None = None,
    ) -> None:  # fmt: skip
        self.mongo = mongo
        self.versions = versions
        self.settings = settings
        self.cache = cache
        self.tenants = tenants or TenantDirectory(mongo, settings)

    # -- data version -------------------------------------------------------------------
    async def data_version(self, tenant: str, minimum: int | None) -> int:
        """The tenant's data version; with ``minimum``, wait briefly for it (read-your-writes)."""
        for _ in range(20):
            version = await (
                self.versions.get(tenant, minimum)  # from memory within the staleness bound
                if self.versions is not None
                else tenants.data_version(self.mongo, tenant)
            )
            if minimum is None or version >= minimum:
                return version
            await asyncio.sleep(0.05)
        raise DataVersionNotReached(
            f"data version {minimum} is not reached yet (current {version})",
            current=version, requested=minimum,
        )  # fmt: skip

    # -- computation --------------------------------------------------------------------
    async def compute(self, tenant: str, q: MetricQuery) -> Computed:
        """One metric's computation, all of it (materialising rollups included) within the
        query budget (CX_MONGO_QUERY_TIMEOUT_S)."""
        async with self.mongo.budget(_operation(q)):
            return await self._compute(tenant, q)

    async def _compute(self, tenant: str, q: MetricQuery) -> Computed:
        if q.kind in SURVEY_FAMILY:
            tenant_tz = (await self.tenants.get(tenant)).tz
            groups = await survey.histograms(self.mongo, tenant, tenant_tz, q)
            out: Computed = {}
            for key, hists in groups.items():
                scales = sorted({scale for scale, _ in hists.by_scale})
                if len(scales) > 1:
                    raise IncompatibleScales(q.kind, scales)
                if len(hists.by_scale) > 1:
                    raise IncompatibleDirections(q.kind)
                (((scale, high_is_easy), hist),) = hists.by_scale.items()
                out[key] = formulas.from_histogram(q.kind, hist, scale, high_is_easy)
            return out
        if q.kind is MetricKind.FCR:
            if q.filter.questions is not None:
                raise BadUserInput("FCR reads support contacts: the questions filter selects "
                                   "survey answers and does not apply",
                                   reason="UNSUPPORTED_FILTER")  # fmt: skip
            contacts = await cases.contacts_of_cases_in(self.mongo, tenant, q.window)
            return support.fcr(q, contacts, timedelta(days=self.settings.fcr_recontact_days))
        assert q.kind in CUSTOMER_KINDS
        retention.check_supported(q)
        return retention.compute(q, await customers.facts(self.mongo, tenant, q.filter.segments))

    @staticmethod
    def _result(value: MetricValue, version: int, at: datetime, min_sample: int) -> MetricResult:
        return MetricResult(
            value=value,
            definition=formulas.DEFINITIONS[value.kind],
            low_sample=value.n < min_sample,
            computed_at=at,
            data_version=version,
        )

    async def _cached(self, tenant: str, version: int, op: str, q: Any, compute: Any) -> Any:
        ts = await self.tenants.get(tenant)  # the tenant's own settings change its answers
        described = {"op": op, "q": _describe(q), "tz": ts.timezone, "minSample": ts.min_sample,
                     "calendar": ts.calendar.value, "weekStart": ts.week_start.value}  # fmt: skip
        key = self.cache.key(tenant, version, described)
        return await self.cache.get_or_compute(key, compute)

    # -- use cases ----------------------------------------------------------------------
    async def metric(self, tenant: str, q: MetricQuery, min_version: int | None) -> MetricResult:
        version = await self.data_version(tenant, min_version)
        min_sample = (await self.tenants.get(tenant)).min_sample

        async def run() -> MetricResult:
            computed = await self.compute(tenant, q)
            value = computed.get((None, ())) or formulas.empty(q.kind)
            return self._result(value, version, datetime.now(UTC), min_sample)

        result: MetricResult = await self._cached(tenant, version, "metric", q, run)
        return result

    async def breakdown(
        self, tenant: str, q: MetricQuery, min_version: int | None
    ) -> list[tuple[GroupKey, MetricResult]]:
        if not 1 <= len(q.by) <= 2 or len(set(q.by)) != len(q.by):
            raise BadUserInput("break down by one or two different dimensions",
                               reason="INVALID_DIMENSIONS")  # fmt: skip
        version = await self.data_version(tenant, min_version)
        min_sample = (await self.tenants.get(tenant)).min_sample

        async def run() -> list[tuple[GroupKey, MetricResult]]:
            computed = await self.compute(tenant, q)
            at = datetime.now(UTC)
            rows = [(group, self._result(v, version, at, min_sample))
                    for (_, group), v in computed.items()]  # fmt: skip
            return sorted(rows, key=lambda r: tuple((k is None, k or "") for k in r[0]))

        rows: list[tuple[GroupKey, MetricResult]] = await self._cached(
            tenant, version, "breakdown", q, run
        )
        return rows

    async def trend(
        self, tenant: str, q: MetricQuery, min_version: int | None
    ) -> list[tuple[datetime, MetricResult]]:
        version = await self.data_version(tenant, min_version)
        min_sample = (await self.tenants.get(tenant)).min_sample

        async def run() -> list[tuple[datetime, MetricResult]]:
            computed = await self.compute(tenant, q)
            at = datetime.now(UTC)
            return [
                (p.label, self._result(
                    computed.get((p.label.timestamp(), ())) or formulas.empty(q.kind), version, at,
                    min_sample,
                ))
                for p in q.period_list()
            ]  # fmt: skip

        points: list[tuple[datetime, MetricResult]] = await self._cached(
            tenant, version, "trend", q, run
        )
        return points

    async def compare(self, tenant: str, a: MetricQuery, b: MetricQuery) -> Comparison:
        ra, rb = await self.metric(tenant, a, None), await self.metric(tenant, b, None)
        va, vb = ra.value, rb.value
        check_comparable(a.kind, va, vb)
        difference = vb.value - va.value if va.value is not None and vb.value is not None else None
        p = p_value(a.kind, va, vb)
        return Comparison(a=ra, b=rb, difference=difference, p_value=p,
                          significant=None if p is None else p < 0.05)  # fmt: skip

    async def funnel(
        self, tenant: str, journey_key: str, window: Window, flt: CellFilter
    ) -> list[FunnelStep]:
        journey = await journeys.get(self.mongo, tenant, journey_key)
        if journey is None:
            raise NotFound(f"unknown journey {journey_key!r}", reason="UNKNOWN_JOURNEY")
        version = await self.data_version(tenant, None)
        stage_keys = [s.key for s in journey.stages]

        async def run() -> list[FunnelStep]:
            async with self.mongo.budget(f"journeyFunnel({journey_key})"):
                visits = (
                    await touchpoints.cohort_visits(
                        self.mongo, tenant, journey_key, stage_keys[0], window, flt
                    )
                    if stage_keys
                    else []
                )
            return funnel(stage_keys, visits, datetime.now(UTC))

        described = {"journey": journey_key, "stages": stage_keys, "window": window,
                     "filter": _filter(flt)}  # fmt: skip
        steps: list[FunnelStep] = await self._cached(tenant, version, "funnel", described, run)
        return steps

    async def segments(self, tenant: str) -> list[tuple[str, int]]:
        return await customers.segment_counts(self.mongo, tenant)


def _operation(q: MetricQuery) -> str:
    """How logs and TIMEOUT errors name a computation."""
    by = f" by {'/'.join(d.value for d in q.by)}" if q.by else ""
    per = f" per {q.granularity.value}" if q.granularity else ""
    return (f"{q.kind.value}{by}{per} over [{q.window.start.isoformat()}, "
            f"{q.window.end.isoformat()})")  # fmt: skip


def cache_codec() -> Codec:
    """Every type a cached metric answer is built of: nothing else decodes from the cache."""
    return Codec([MetricResult, MetricValue, Distribution, Sample, FunnelStep, MetricKind,
                  *DRIVER_TYPES])  # fmt: skip


def answer_params(settings: Settings) -> dict[str, Any]:
    """Settings and definitions that change an answer: part of every cache key."""
    definitions = json.dumps({k.value: v for k, v in formulas.DEFINITIONS.items()}, sort_keys=True)
    return {
        "minSample": settings.min_sample,
        "timezone": settings.timezone,
        "calendar": settings.calendar.value,
        "weekStart": settings.week_start.value,
        "fcrRecontactDays": settings.fcr_recontact_days,
        "definitions": hashlib.sha256(definitions.encode()).hexdigest()[:16],
    }


def _filter(flt: CellFilter) -> dict[str, list[str] | None]:
    return {name: None if v is None else sorted(v) for name, v in vars(flt).items()}


def _describe(q: Any) -> Any:
    if isinstance(q, MetricQuery):
        return {"kind": q.kind.value, "from": q.window.start.isoformat(),
                "to": q.window.end.isoformat(), "filter": _filter(q.filter),
                "by": [d.value for d in q.by],
                "granularity": q.granularity.value if q.granularity else None,
                "tz": q.timezone.key, "source": q.source.value,
                "calendar": q.calendar.value, "weekStart": q.week_start.value,
                "componentUnits": q.component_units}  # fmt: skip
    return q


__all__ = ["Comparison", "Dimension", "MetricResult", "MetricsService"]
