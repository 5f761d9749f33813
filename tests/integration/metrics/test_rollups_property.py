"""Property: survey metrics read from rollups equal the same metrics aggregated from raw.

Each example loads a small random data set into a fresh database (random tenant timezone,
responses at random instants and exactly at local midnights, around DST changes), then asks
one random question — kind, window (aligned to days or not), query timezone, breakdown,
granularity, filter — with ``source=RAW`` and ``source=ROLLUPS``. The two must be equal,
``MetricValue`` for ``MetricValue`` (floats identical), before and after the rollups are
stored, and again after a second batch of writes (new responses, updated answers and times,
a late customer record) makes some days stale.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.domain.errors import CxError
from service.domain.metrics.cells import CellFilter
from service.domain.metrics.query import (
    SURVEY_FAMILY,
    IncompatibleDirections,
    IncompatibleScales,
    MetricQuery,
    Source,
)
from service.domain.metrics.timeframe import Window, day_start, periods, split_into_days
from service.domain.model import Dimension, Granularity, MetricKind, RecordStatus
from service.http.app import create_app
from service.metrics.service import Computed, MetricsService
from service.metrics.survey import needs_raw
from service.store import rollups
from tests.conftest import make_settings
from tests.integration.builders import SOURCE

TENANT = "default"
TIMEZONES = ["UTC", "Asia/Tehran", "America/New_York"]
QUERY_TIMEZONES = [*TIMEZONES, "Asia/Kolkata", "Asia/Kathmandu"]  # +05:30, +05:45
# First local day of the data: ~20 days that cross New York's spring-forward (2026-03-08) or
# fall-back (2026-11-01), or Tehran's last DST start, whose midnight did not exist
# (2022-03-22), or Tehran's last DST end (2022-09-21 23:00 happened twice).
BASE_DAYS = [date(2026, 2, 25), date(2026, 10, 20), date(2022, 3, 12), date(2022, 9, 10)]
DAYS = 20
ANY_DAY = st.integers(-1, DAYS)  # day offsets from the first day

JOURNEYS = {"j1": ["s1", "s2"], "j2": ["s3"], "j3": ["s1", "s4"]}
SEGMENTS = ["a", "b", "c"]
CHANNELS = ["WEB", "EMAIL", "PHONE"]
COMPONENTS = ["PRICE", "PEOPLE", "PRODUCT"]
SCALES = {"NPS": (0, 10), "CSAT": (1, 5), "CES": (1, 7), "EMOTION": (1, 5),
          "VALUE_FOR_EFFORT": (1, 5), "COMPONENT": (1, 5), "OTHER": (1, 10)}  # fmt: skip
SURVEY_KINDS = list(SURVEY_FAMILY)
VOCABULARY = {"segments": SEGMENTS, "journeys": list(JOURNEYS),
              "stages": ["s1", "s2", "s3", "s4"], "channels": CHANNELS,
              "components": COMPONENTS}  # fmt: skip


# -- strategies ---------------------------------------------------------------------------------


@st.composite
def instants(
    draw: st.DrawFn,
    base: date,
    tenant_tz: ZoneInfo,
    query_tz: ZoneInfo,
    offsets: st.SearchStrategy[int] = ANY_DAY,
) -> datetime:
    """A moment in the data range: any second, or exactly a tenant- or query-local midnight."""
    day = base + timedelta(days=draw(offsets))
    how = draw(st.sampled_from(["tenant midnight", "query midnight", "any"]))
    if how == "tenant midnight":
        return day_start(day, tenant_tz)
    if how == "query midnight":
        return day_start(day, query_tz)
    return day_start(day, tenant_tz) + timedelta(seconds=draw(st.integers(0, 86_399)))


QUESTIONS = ["q1", "q2"]  # each metric's questions are f"{question}-{metric}"
SAYS_NOTHING: st.SearchStrategy[bool | None] = st.just(None)
DIRECTIONS = {  # how a scenario's CES answers say whether a high value means easy
    "default": SAYS_NOTHING,
    "effort": st.just(False),
    "mixed": st.sampled_from([None, True, False]),
}


@st.composite
def answers(
    draw: st.DrawFn, metric: str | None = None, easy: st.SearchStrategy[bool | None] = SAYS_NOTHING
) -> dict[str, Any]:
    metric = metric or draw(st.sampled_from(list(SCALES)))
    lo, hi = SCALES[metric]
    value: float = draw(st.integers(lo, hi))
    if value < hi and draw(st.integers(0, 5)) == 0:
        value += 0.5
    question = f"{draw(st.sampled_from(QUESTIONS))}-{metric.lower()}"
    record: dict[str, Any] = {"question": question, "metric": metric,
                              "value": value, "scaleMin": lo, "scaleMax": hi}  # fmt: skip
    if metric == "COMPONENT" or draw(st.integers(0, 4)) == 0:
        record["component"] = draw(st.sampled_from(COMPONENTS))
    high_is_easy = draw(easy) if metric == "CES" else None
    if high_is_easy is not None:
        record["highIsEasy"] = high_is_easy
    return record


@st.composite
def responses(
    draw: st.DrawFn,
    external_id: str,
    when: st.SearchStrategy[datetime],
    journeys: list[str],
    family: str,
    easy: st.SearchStrategy[bool | None],
) -> dict[str, Any]:
    """A response; half of them carry one or two answers of ``family`` (the one the query
    reads: two are averaged into one value)."""
    extra = (
        draw(st.lists(answers(family, easy), min_size=1, max_size=2))
        if family in SCALES and draw(st.booleans())
        else []
    )
    record: dict[str, Any] = {
        "source": SOURCE,
        "externalId": external_id,
        "customer": {"source": SOURCE, "externalId": f"c{draw(st.integers(0, 4))}"},
        "submittedAt": draw(when).isoformat(),
        "answers": draw(st.lists(answers(easy=easy), min_size=0 if extra else 1, max_size=3))
        + extra,
    }
    journey = draw(st.none() | st.sampled_from(journeys))
    if journey is not None:
        record["journey"] = journey
        stage = draw(st.none() | st.sampled_from(JOURNEYS[journey]))
        if stage is not None:
            record["stage"] = stage
    channel = draw(st.none() | st.sampled_from(CHANNELS))
    if channel is not None:
        record["channel"] = channel
    return record


@st.composite
def filters(draw: st.DrawFn, family: str) -> CellFilter:
    values: dict[str, frozenset[str] | None] = {}
    vocabulary_of = {**VOCABULARY, "questions": [f"{q}-{family.lower()}" for q in QUESTIONS]}
    for name, vocabulary in vocabulary_of.items():
        if draw(st.sampled_from(range(8))) == 7:  # an eighth of the lists are set, a few empty
            size = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 2]))
            values[name] = frozenset(draw(st.lists(st.sampled_from(vocabulary), min_size=size,
                                                   max_size=size, unique=True)))  # fmt: skip
        else:
            values[name] = None
    return CellFilter(**values)


@st.composite
def windows(draw: st.DrawFn, base: date, tenant_tz: ZoneInfo, query_tz: ZoneInfo) -> Window:
    start = draw(instants(base, tenant_tz, query_tz, st.sampled_from([-1, 0, 1, 2, 4, 8, 12])))
    days = draw(st.sampled_from([0, 1, 2, 5, 9, 14, 18, DAYS + 1]))
    if draw(st.booleans()):  # up to a tenant-local midnight
        end = day_start(start.astimezone(tenant_tz).date() + timedelta(days=days + 1), tenant_tz)
    else:
        end = start + timedelta(days=days, seconds=draw(st.integers(1, 86_399)))
    return Window(start.astimezone(UTC), end.astimezone(UTC))


@dataclasses.dataclass
class Scenario:
    tenant_tz: str
    journeys: list[str]
    customers: list[dict[str, Any]]  # c0..c3; c4 stays unknown (a stub) in the first batch
    first: list[dict[str, Any]]
    second: list[dict[str, Any]]  # new responses, resends, updates
    late_customer: dict[str, Any] | None
    query: MetricQuery


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    tenant_tz = draw(st.sampled_from(TIMEZONES))
    query_tz = draw(st.sampled_from(QUERY_TIMEZONES))
    tz, qtz = ZoneInfo(tenant_tz), ZoneInfo(query_tz)
    base = draw(st.sampled_from(BASE_DAYS))
    journeys = sorted(draw(st.sets(st.sampled_from(list(JOURNEYS)), min_size=1, max_size=3)))
    customers = [
        {"source": SOURCE, "externalId": f"c{i}",
         "segments": draw(st.lists(st.sampled_from(SEGMENTS), max_size=2, unique=True))}
        for i in range(4)
    ]  # fmt: skip
    kind = draw(st.sampled_from(SURVEY_KINDS))
    family = SURVEY_FAMILY[kind]
    easy = DIRECTIONS[draw(st.sampled_from(list(DIRECTIONS)))]
    when = instants(base, tz, qtz)
    count = draw(st.integers(1, 30))
    first = [draw(responses(f"r{i}", when, journeys, family, easy)) for i in range(count)]
    second = [draw(responses(f"r{count + i}", when, journeys, family, easy))
              for i in range(draw(st.integers(0, 5)))]  # fmt: skip
    for old in draw(
        st.lists(st.sampled_from(first), max_size=3, unique_by=lambda r: r["externalId"])
    ):
        change = draw(st.sampled_from(["resend", "answers", "time", "both"]))
        new = dict(old)
        if change in ("answers", "both"):
            new["answers"] = draw(st.lists(answers(easy=easy), min_size=1, max_size=3)) + (
                [draw(answers(family, easy))] if family in SCALES else []
            )
        if change in ("time", "both"):
            new["submittedAt"] = draw(when).isoformat()
        second.append(new)
    late = None
    if draw(st.booleans()):
        segments = draw(st.lists(st.sampled_from(SEGMENTS), max_size=2, unique=True))
        late = {"source": SOURCE, "externalId": "c4", "segments": segments}
    by_count = draw(st.integers(0, 2))
    by = tuple(draw(st.lists(st.sampled_from(list(Dimension)), min_size=by_count,
                             max_size=by_count, unique=True)))  # fmt: skip
    query = MetricQuery(
        kind=kind,
        window=draw(windows(base, tz, qtz)),
        filter=draw(filters(family)),
        by=by,
        granularity=draw(st.none() | st.sampled_from(list(Granularity))),
        timezone=qtz,
    )
    return Scenario(tenant_tz, journeys, customers, first, second, late, query)


# -- the property -------------------------------------------------------------------------------


async def outcome(metrics: MetricsService, q: MetricQuery, source: Source) -> Computed | str:
    try:
        return await metrics.compute(TENANT, dataclasses.replace(q, source=source))
    except (IncompatibleScales, IncompatibleDirections) as exc:
        return f"{type(exc).__name__}: {exc.message}"


def describe_difference(raw: Computed | str, rolled: Computed | str) -> str:
    if isinstance(raw, str) or isinstance(rolled, str):
        return f"raw={raw!r}\nrollups={rolled!r}"
    lines = [f"keys only raw: {sorted(set(raw) - set(rolled), key=repr)}",
             f"keys only rollups: {sorted(set(rolled) - set(raw), key=repr)}"]  # fmt: skip
    for key in sorted(set(raw) & set(rolled), key=repr):
        if raw[key] != rolled[key]:
            lines.append(f"{key}: raw {raw[key]}\n    rollups {rolled[key]}")
    return "\n".join(lines)


async def assert_sources_agree(metrics: MetricsService, q: MetricQuery, when: str) -> None:
    raw = await outcome(metrics, q, Source.RAW)
    rolled = await outcome(metrics, q, Source.ROLLUPS)
    assert rolled == raw, f"{when}, materialising:\n{describe_difference(raw, rolled)}"
    stored = await outcome(metrics, q, Source.ROLLUPS)
    assert stored == raw, f"{when}, from stored rollups:\n{describe_difference(raw, stored)}"
    assert await outcome(metrics, q, Source.AUTO) == raw


def query_days(q: MetricQuery, tz: ZoneInfo) -> list[str]:
    wins = [q.window] if q.granularity is None else [
        p.window for p in periods(q.window, q.granularity, q.timezone)]  # fmt: skip
    return [d.isoformat() for w in wins for d in split_into_days(w, tz).days]


async def run_scenario(mongo_uri: str, scenario: Scenario) -> None:
    settings = make_settings(mongo_uri, timezone=scenario.tenant_tz, cache_backend="none")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        state = app.state.cx
        try:
            ingestor, metrics, q = state.ingestor, state.metrics, scenario.query
            tz = ZoneInfo(scenario.tenant_tz)
            for key in scenario.journeys:
                await ingestor.define_journey(TENANT, {
                    "key": key, "name": key,
                    "stages": [{"key": s, "name": s, "phase": "PURCHASE"} for s in JOURNEYS[key]],
                })  # fmt: skip
            await ingestor.upsert_customers(TENANT, scenario.customers)
            written = await ingestor.submit_survey_responses(TENANT, scenario.first)
            assert written.count(RecordStatus.INSERTED) == len(scenario.first)

            await assert_sources_agree(metrics, q, "first batch")
            if not needs_raw(q):  # (a questions filter, say, is answered from raw documents)
                current = await rollups.state(state.mongo, TENANT)
                assert current.stale(query_days(q, tz)) == []

            outcome_ = await ingestor.submit_survey_responses(TENANT, scenario.second)
            assert outcome_.count(RecordStatus.REJECTED) == 0
            if scenario.late_customer is not None:
                await ingestor.upsert_customers(TENANT, [scenario.late_customer])
            await assert_sources_agree(metrics, q, "after the second batch")
        finally:
            await state.mongo.client.drop_database(settings.mongo_db)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
@given(scenario=scenarios())
def test_rollups_equal_raw(mongo_uri: str, scenario: Scenario) -> None:
    asyncio.run(run_scenario(mongo_uri, scenario))


def test_a_fixed_example_around_spring_forward(mongo_uri: str) -> None:
    """One fixed example through the same check: local midnights of a 23-hour day."""
    tz = ZoneInfo("America/New_York")
    q = MetricQuery(
        kind=MetricKind.RESPONSE_COUNT,
        window=Window(datetime(2026, 3, 6, 17, tzinfo=UTC), datetime(2026, 3, 10, 4, tzinfo=UTC)),
        filter=CellFilter(),
        by=(Dimension.SEGMENT,),
        granularity=Granularity.DAY,
        timezone=ZoneInfo("Asia/Tehran"),
    )
    first = [
        {"source": SOURCE, "externalId": f"r{i}", "customer": {"source": SOURCE,
         "externalId": f"c{i % 5}"}, "submittedAt": moment.isoformat(),
         "answers": [{"question": "q", "metric": "CSAT", "value": 4, "scaleMin": 1,
                      "scaleMax": 5}]}
        for i, moment in enumerate([
            day_start(date(2026, 3, 8), tz), day_start(date(2026, 3, 9), tz),
            day_start(date(2026, 3, 9), tz) - timedelta(seconds=1),
            datetime(2026, 3, 7, 20, 30, tzinfo=UTC), datetime(2026, 3, 6, 17, tzinfo=UTC),
        ])
    ]  # fmt: skip
    customers = [{"source": SOURCE, "externalId": f"c{i}", "segments": ["a", "b"][: i % 3]}
                 for i in range(4)]  # fmt: skip
    late = {"source": SOURCE, "externalId": "c4", "segments": ["c"]}
    scenario = Scenario("America/New_York", ["j1"], customers, first, [], late, q)
    asyncio.run(run_scenario(mongo_uri, scenario))


def test_compute_raises_incompatible_scales_on_both_paths(mongo_uri: str) -> None:
    async def body() -> None:
        settings = make_settings(mongo_uri, cache_backend="none")
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            state = app.state.cx
            try:
                await state.ingestor.submit_survey_responses(TENANT, [
                    {"source": SOURCE, "externalId": f"r{hi}",
                     "customer": {"source": SOURCE, "externalId": "c"},
                     "submittedAt": f"2026-03-0{hi - 3}T12:00:00Z",
                     "answers": [{"question": "q", "metric": "CES", "value": 3,
                                  "scaleMin": 1, "scaleMax": hi}]}
                    for hi in (5, 7)
                ])  # fmt: skip
                window = Window(
                    datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 5, 6, tzinfo=UTC)
                )
                q = MetricQuery(MetricKind.CES, window, CellFilter())
                for source in (Source.RAW, Source.ROLLUPS, Source.ROLLUPS):
                    with pytest.raises(IncompatibleScales) as exc:
                        await state.metrics.compute(TENANT, dataclasses.replace(q, source=source))
                    assert isinstance(exc.value, CxError)
                    assert exc.value.extensions is not None
                    assert exc.value.extensions["scales"] == [{"min": 1, "max": 5},
                                                              {"min": 1, "max": 7}]  # fmt: skip
            finally:
                await state.mongo.client.drop_database(settings.mongo_db)

    asyncio.run(body())
