"""Trends in local calendars through GraphQL, on the rollup and raw paths, against the oracle.

Two data sets in one app: survey responses placed on the boundaries of Persian and
Umm al-Qura months in 2024-2026 (Nowruz on 20 March 2024 and on 21 March 2025 and 2026, the
equinox instants themselves, Sha'ban 1447 of 29 days and Ramadan 1447 of 30, local
midnights of Tehran and Riyadh and the second before them), and the seeded data set of the
metric tests (tests/integration/metric_data.py) for every metric kind. The tenant of the
boundary data keeps its days in UTC, so a Tehran or Riyadh trend cuts them (quarter-hour
slots); a second tenant in Asia/Tehran, PERSIAN and SATURDAY by default reads whole days.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from service.store import tenants
from tests import oracle
from tests.conftest import http_client, make_settings, run_cli, running_app
from tests.graphql import gql, gql_ok, no_answer
from tests.integration import metric_data
from tests.integration.builders import answer, nps, response
from tests.integration.metric_data import FRAGMENT, load, result_mismatches, window_input
from tests.oracle.metrics import period_table

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEHRAN, RIYADH = ZoneInfo("Asia/Tehran"), ZoneInfo("Asia/Riyadh")

# The March equinox of each year (UTC, to the minute): 06:36, 12:31 and 18:16 in Tehran.
EQUINOXES = (datetime(2024, 3, 20, 3, 6, tzinfo=UTC), datetime(2025, 3, 20, 9, 1, tzinfo=UTC),
             datetime(2026, 3, 20, 14, 46, tzinfo=UTC))  # fmt: skip
# Local days that begin a Persian or an Umm al-Qura month, or are Nowruz's neighbours
BOUNDARY_DAYS = (
    date(2024, 3, 11), date(2024, 3, 19), date(2024, 3, 20), date(2024, 3, 21),
    date(2024, 4, 10), date(2024, 4, 20),
    date(2025, 2, 19), date(2025, 3, 1), date(2025, 3, 20), date(2025, 3, 21),
    date(2025, 3, 30), date(2025, 4, 21),
    date(2026, 1, 20), date(2026, 2, 18), date(2026, 2, 20), date(2026, 3, 20),
    date(2026, 3, 21), date(2026, 4, 19), date(2026, 4, 21),
)  # fmt: skip
SPANS = {  # three months around each Nowruz, whole days of Tehran
    "2024": (datetime(2024, 2, 1, tzinfo=TEHRAN), datetime(2024, 5, 1, tzinfo=TEHRAN)),
    "2025": (datetime(2025, 2, 1, tzinfo=TEHRAN), datetime(2025, 5, 1, tzinfo=TEHRAN)),
    "2026": (datetime(2026, 1, 10, tzinfo=TEHRAN), datetime(2026, 4, 30, tzinfo=TEHRAN)),
}
# bounds off the quarter-hour grid: partial days from raw documents on the rollup path too
RAGGED = (datetime(2025, 3, 5, 13, 17, 9, tzinfo=TEHRAN), datetime(2025, 4, 3, 7, 0, 1, tzinfo=UTC))
CHANNELS = ("WEB", "EMAIL", "CHAT", "PHONE")

TREND = (
    "query($kind: MetricKind!, $granularity: Granularity!, $window: TimeWindow!, "
    "$timezone: String, $source: MetricSource!, $calendar: Calendar, $weekStart: WeekStart) "
    "{ trend(kind: $kind, granularity: $granularity, window: $window, timezone: $timezone, "
    "source: $source, calendar: $calendar, weekStart: $weekStart) { periodStart periodEnd "
    "label result { ...R } } } " + FRAGMENT
)


def boundary_records(seed: int = 1405) -> list[dict[str, Any]]:
    """Responses at random instants of the spans, plus on every boundary: the local
    midnights of Tehran and Riyadh, the second before each, and the equinoxes."""
    rnd = random.Random(seed)
    instants: list[datetime] = []
    for start, end in SPANS.values():
        seconds = int((end - start).total_seconds())
        instants += [start + timedelta(seconds=rnd.randrange(seconds)) for _ in range(110)]
    for day in BOUNDARY_DAYS:
        for zone in (TEHRAN, RIYADH):
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
            instants += [midnight, midnight - timedelta(seconds=1)]
    for equinox in EQUINOXES:
        noon = equinox.astimezone(TEHRAN).replace(hour=12, minute=0)
        instants += [equinox, noon, noon - timedelta(seconds=1)]
    records = []
    for i, moment in enumerate(instants):
        answers = [nps(rnd.randrange(11))]
        if rnd.random() < 0.6:
            answers.append(answer("CSAT", rnd.randrange(1, 6), 1, 5))
        records.append(response(
            f"cal-{i:04d}", f"c{rnd.randrange(40)}", answers=answers,
            submitted_at=moment.astimezone(rnd.choice((UTC, TEHRAN, RIYADH))),
            channel=rnd.choice(CHANNELS),
        ))  # fmt: skip
    return records


RECORDS = boundary_records()
METRIC_DATA = metric_data.generate()


@dataclass
class Loaded:
    app: Starlette
    client: httpx.AsyncClient  # tenant "default": days in UTC, GREGORIAN, MONDAY
    local: httpx.AsyncClient  # tenant "tehran": Asia/Tehran, PERSIAN, SATURDAY
    metrics: httpx.AsyncClient  # tenant "metrics": the metric tests' data set
    ds: oracle.Dataset
    metrics_ds: oracle.Dataset


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def loaded(mongo_uri: str) -> AsyncIterator[Loaded]:
    # the response cache on, as in production; tenant settings read afresh on each request
    settings = make_settings(mongo_uri, response_cache_entries=1000, auth_cache_s=0)
    async with running_app(settings) as app:
        mongo = app.state.cx.mongo
        await tenants.create(mongo, "tehran", {"timezone": "Asia/Tehran", "calendar": "PERSIAN",
                                               "weekStart": "SATURDAY"})  # fmt: skip
        async with (http_client(app) as client, http_client(app, tenant="tehran") as local,
                    http_client(app, tenant="metrics") as metrics):  # fmt: skip
            for c in (client, local):
                data = await gql_ok(c, SUBMIT, {"input": RECORDS})
                assert data["submitSurveyResponses"]["inserted"] == len(RECORDS)
            metrics_ds, _ = await load(metrics, METRIC_DATA)
            ds = oracle.Dataset([], [], RECORDS, [])
            yield Loaded(app, client, local, metrics, ds, metrics_ds)


SUBMIT = ("mutation($input: [SurveyResponseInput!]!) { submitSurveyResponses(input: $input) "
          "{ inserted } }")  # fmt: skip


def oracle_outcome(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args, **kwargs)
    except oracle.IncompatibleScales:
        return "INCOMPATIBLE_SCALES", None
    except oracle.IncompatibleDirections:
        return "INCOMPATIBLE_DIRECTIONS", None
    except oracle.BadUserInput:
        return "BAD_USER_INPUT", None


async def check(
    client: httpx.AsyncClient, ds: oracle.Dataset, kind: str, granularity: str,
    window: tuple[datetime, datetime], tz: str, calendar: str, week_start: str, source: str,
    *, send: tuple[str, ...] = ("timezone", "calendar", "weekStart"),
) -> list[dict[str, Any]]:  # fmt: skip
    """The trend through GraphQL (sending the arguments in ``send``; the others are the
    tenant's) against the oracle: periods, their ends and labels, and every result field."""
    variables: dict[str, Any] = {"kind": kind, "granularity": granularity, "source": source,
                                 "window": window_input(window)}  # fmt: skip
    given = {"timezone": tz, "calendar": calendar, "weekStart": week_start}
    variables.update({name: given[name] for name in send})
    body = await gql(client, TREND, variables)
    status, expected = oracle_outcome(oracle.trend, ds, kind, granularity, window, tz,
                                      calendar=calendar, week_start=week_start)  # fmt: skip
    if status != "ok":
        assert no_answer(body), body
        assert [e["extensions"]["code"] for e in body["errors"]] == [status], body["errors"]
        return []
    assert "errors" not in body, body["errors"]
    points = body["data"]["trend"]
    table = period_table(granularity, window, tz, calendar, week_start)
    got = [(datetime.fromisoformat(p["periodStart"]), datetime.fromisoformat(p["periodEnd"]),
            p["label"]) for p in points]  # fmt: skip
    assert [(s, s.utcoffset(), e, e.utcoffset(), label) for s, e, label in got] == [
        (t["start"], t["start"].utcoffset(), t["end"], t["end"].utcoffset(), t["label"])
        for t in table
    ]
    problems = [
        problem
        for point, (start, result) in zip(points, expected, strict=True)
        for problem in result_mismatches(point["result"], result, f"{point['label']}: ")
    ]
    assert not problems, "\n".join(problems)
    return list(points)


# -- Persian months: Nowruz across the spring equinox --------------------------------------

PERSIAN_CASES = [
    pytest.param(span, kind, source, id=f"{span}-{kind}-{source}")
    for span in (*SPANS, "ragged")
    for kind in ("NPS", "CSAT", "RESPONSE_COUNT")
    for source in ("AUTO", "RAW")
]


@pytest.mark.parametrize(("span", "kind", "source"), PERSIAN_CASES)
async def test_persian_months_across_nowruz(loaded: Loaded, span: str, kind: str, source: str
                                            ) -> None:  # fmt: skip
    window = RAGGED if span == "ragged" else SPANS[span]
    points = await check(loaded.client, loaded.ds, kind, "MONTH", window, "Asia/Tehran",
                         "PERSIAN", "MONDAY", source)  # fmt: skip
    if span in ("2024", "2025"):  # 1 Farvardin: 20 March 2024, 21 March 2025
        nowruz = next(p for p in points if p["label"].endswith("-01"))
        assert nowruz["periodStart"] == ("2024-03-20T00:00:00+03:30" if span == "2024"
                                         else "2025-03-21T00:00:00+03:30")  # fmt: skip


@pytest.mark.parametrize("source", ["AUTO", "RAW"])
async def test_persian_days_around_nowruz(loaded: Loaded, source: str) -> None:
    window = (datetime(2026, 3, 14, tzinfo=TEHRAN), datetime(2026, 3, 28, tzinfo=TEHRAN))
    points = await check(loaded.client, loaded.ds, "RESPONSE_COUNT", "DAY", window,
                         "Asia/Tehran", "PERSIAN", "MONDAY", source)  # fmt: skip
    assert [p["label"] for p in points][5:9] == ["1404-12-28", "1404-12-29", "1405-01-01",
                                                 "1405-01-02"]  # fmt: skip


# -- Umm al-Qura months of 29 and 30 days -------------------------------------------------

UMALQURA_CASES = [
    pytest.param(span, tz, kind, source, id=f"{span}-{tz}-{kind}-{source}")
    for span in ("2025", "2026")
    for tz in ("Asia/Riyadh", "Asia/Tehran")
    for kind in ("NPS", "RESPONSE_COUNT")
    for source in ("AUTO", "RAW")
]


@pytest.mark.parametrize(("span", "tz", "kind", "source"), UMALQURA_CASES)
async def test_umalqura_months(loaded: Loaded, span: str, tz: str, kind: str, source: str
                               ) -> None:  # fmt: skip
    points = await check(loaded.client, loaded.ds, kind, "MONTH", SPANS[span], tz,
                         "ISLAMIC_UMALQURA", "MONDAY", source)  # fmt: skip
    days = {p["label"]: length(p) for p in points}
    if span == "2026":  # Sha'ban 1447 has 29 days, Ramadan 1447 30
        assert (days["1447-08"], days["1447-09"]) == (29, 30)
        assert points[2]["periodStart"][:10] == "2026-02-18"


def length(point: dict[str, Any]) -> int:
    """A trend point's period in days."""
    start, end = (datetime.fromisoformat(point[k]) for k in ("periodStart", "periodEnd"))
    return (end - start).days


# -- weeks ----------------------------------------------------------------------------------

WEEK_CASES = [
    pytest.param(tz, calendar, week_start, source, id=f"{tz}-{calendar}-{week_start}-{source}")
    for tz, calendar, week_start in (
        ("Asia/Tehran", "PERSIAN", "SATURDAY"),
        ("Asia/Riyadh", "ISLAMIC_UMALQURA", "SUNDAY"),
        ("Asia/Tehran", "GREGORIAN", "SUNDAY"),
    )
    for source in ("AUTO", "RAW")
]


@pytest.mark.parametrize(("tz", "calendar", "week_start", "source"), WEEK_CASES)
async def test_weeks_from_their_day(loaded: Loaded, tz: str, calendar: str, week_start: str,
                                    source: str) -> None:  # fmt: skip
    points = await check(loaded.client, loaded.ds, "NPS", "WEEK", SPANS["2026"], tz, calendar,
                         week_start, source)  # fmt: skip
    weekday = {"SATURDAY": 5, "SUNDAY": 6}[week_start]
    assert {datetime.fromisoformat(p["periodStart"]).weekday() for p in points} == {weekday}


# -- every metric kind, on the metric tests' data set ---------------------------------------

WHOLE = (metric_data.DATA_START, metric_data.DATA_END)
# CES is asked on an effort scale from EFFORT_FROM on: a period holding both directions
# fails (INCOMPATIBLE_DIRECTIONS, test_oracle.py), so CES trends stop before it
ONE_DIRECTION = (metric_data.DATA_START, metric_data.EFFORT_FROM)
KIND_CASES = [
    pytest.param(kind, granularity, tz, calendar, week_start, source,
                 id=f"{kind}-{granularity}-{calendar}-{week_start}-{source}")
    for kind in metric_data.ALL_KINDS
    for granularity, tz, calendar, week_start in (
        ("MONTH", "Asia/Tehran", "PERSIAN", "MONDAY"),
        ("MONTH", "Asia/Riyadh", "ISLAMIC_UMALQURA", "MONDAY"),
        ("WEEK", "Asia/Tehran", "PERSIAN", "SATURDAY"),
    )
    for source in (("AUTO", "RAW") if kind in metric_data.SURVEY_KINDS else ("AUTO",))
]  # fmt: skip


@pytest.mark.parametrize(("kind", "granularity", "tz", "calendar", "week_start", "source"),
                         KIND_CASES)  # fmt: skip
async def test_every_kind_in_local_calendars(loaded: Loaded, kind: str, granularity: str,
                                             tz: str, calendar: str, week_start: str,
                                             source: str) -> None:  # fmt: skip
    window = ONE_DIRECTION if kind in ("CES", "CES_PERCENT_EASY") else WHOLE
    await check(loaded.metrics, loaded.metrics_ds, kind, granularity, window, tz, calendar,
                week_start, source)  # fmt: skip


# -- the tenant's defaults ------------------------------------------------------------------


@pytest.mark.parametrize("source", ["AUTO", "RAW"])
async def test_the_tenants_calendar_week_and_timezone_apply_without_arguments(
    loaded: Loaded, source: str
) -> None:
    """Tenant "tehran": its own days (whole rollup days), months and weeks."""
    for granularity, week_start in (("MONTH", "SATURDAY"), ("WEEK", "SATURDAY")):
        await check(loaded.local, loaded.ds, "NPS", granularity, SPANS["2025"], "Asia/Tehran",
                    "PERSIAN", week_start, source, send=())  # fmt: skip
    # arguments still win over the defaults
    await check(loaded.local, loaded.ds, "NPS", "WEEK", SPANS["2025"], "Asia/Tehran",
                "GREGORIAN", "MONDAY", source, send=("calendar", "weekStart"))  # fmt: skip


async def test_gregorian_monday_is_what_a_trend_always_was(loaded: Loaded) -> None:
    """Naming the defaults changes nothing; labels are Gregorian months and weeks' first days."""
    for granularity, label in (("MONTH", "2026-01"), ("WEEK", "2026-01-05"), ("DAY", "2026-01-09")):
        variables = {"kind": "NPS", "granularity": granularity, "source": "AUTO",
                     "window": window_input(SPANS["2026"])}  # fmt: skip
        plain = await gql_ok(loaded.client, TREND, variables)
        named = await gql_ok(loaded.client, TREND, {**variables, "calendar": "GREGORIAN",
                                                    "weekStart": "MONDAY"})  # fmt: skip
        assert named == plain
        assert plain["trend"][0]["label"] == label
    # the trend of the metric tests is unchanged: its oracle is the Gregorian one
    await check(loaded.client, loaded.ds, "CSAT", "WEEK", SPANS["2024"], "UTC", "GREGORIAN",
                "MONDAY", "AUTO", send=("timezone",))  # fmt: skip


async def test_a_changed_tenant_default_is_never_answered_from_a_cache(loaded: Loaded) -> None:
    """The response cache and the metric cache both key on the tenant's settings: after
    `tenants set` the same request answers in the new calendar at once."""
    mongo, stats = loaded.app.state.cx.mongo, loaded.app.state.cx.response_stats
    await tenants.create(mongo, "switch", {"timezone": "Asia/Riyadh"})
    async with http_client(loaded.app, tenant="switch") as c:
        assert (await gql_ok(c, SUBMIT, {"input": RECORDS}))["submitSurveyResponses"]
        variables = {"kind": "RESPONSE_COUNT", "granularity": "MONTH", "source": "AUTO",
                     "window": window_input(SPANS["2026"])}  # fmt: skip
        document = TREND.replace("label result { ...R }", "label result { n }")
        document = document.replace(FRAGMENT, "")
        expected: dict[str, list[tuple[str, int]]] = {}
        for calendar in ("GREGORIAN", "ISLAMIC_UMALQURA", "PERSIAN"):
            table = oracle.trend(loaded.ds, "RESPONSE_COUNT", "MONTH", SPANS["2026"],
                                 "Asia/Riyadh", calendar=calendar)  # fmt: skip
            labels = period_table("MONTH", SPANS["2026"], "Asia/Riyadh", calendar)
            expected[calendar] = [(p["label"], r["n"]) for p, (_, r) in
                                  zip(labels, table, strict=True)]  # fmt: skip
        for calendar in ("ISLAMIC_UMALQURA", "PERSIAN", "GREGORIAN"):
            await tenants.set_settings(mongo, "switch", {"calendar": calendar})
            hits = stats.hits
            for _ in range(2):
                got = (await gql_ok(c, document, variables))["trend"]
                assert [(p["label"], p["result"]["n"]) for p in got] == expected[calendar]
            assert stats.hits == hits + 1  # the second from the response cache
        # back to a calendar answered before: that answer is still right, and served
        await tenants.set_settings(mongo, "switch", {"calendar": "ISLAMIC_UMALQURA"})
        hits = stats.hits
        got = (await gql_ok(c, document, variables))["trend"]
        assert [(p["label"], p["result"]["n"]) for p in got] == expected["ISLAMIC_UMALQURA"]
        assert stats.hits == hits + 1


# -- bad input ------------------------------------------------------------------------------

BAD = {
    "unknown calendar": ({"calendar": "MAYAN"}, "BAD_USER_INPUT", None),
    "lower-case calendar": ({"calendar": "persian"}, "BAD_USER_INPUT", None),
    "operator as calendar": ({"calendar": {"$gt": ""}}, "BAD_USER_INPUT", None),
    "unknown week start": ({"weekStart": "FRIDAY"}, "BAD_USER_INPUT", None),
    "operator as week start": ({"weekStart": "$where"}, "BAD_USER_INPUT", None),
    "Umm al-Qura after its table": (
        {"calendar": "ISLAMIC_UMALQURA",
         "window": {"from": "2077-10-01T00:00:00Z", "to": "2077-12-01T00:00:00Z"}},
        "BAD_USER_INPUT", "CALENDAR_OUT_OF_RANGE"),
    "Umm al-Qura before its table": (
        {"calendar": "ISLAMIC_UMALQURA",
         "window": {"from": "1924-07-01T00:00:00Z", "to": "1924-09-01T00:00:00Z"}},
        "BAD_USER_INPUT", "CALENDAR_OUT_OF_RANGE"),
    "Persian after persiantools' last year": (
        {"calendar": "PERSIAN",
         "window": {"from": "9999-03-01T00:00:00Z", "to": "9999-04-01T00:00:00Z"}},
        "BAD_USER_INPUT", "CALENDAR_OUT_OF_RANGE"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
async def test_bad_calendar_arguments(loaded: Loaded, case: str) -> None:
    changes, code, reason = BAD[case]
    variables = {"kind": "NPS", "granularity": "MONTH", "source": "AUTO",
                 "window": window_input(SPANS["2026"]), **changes}  # fmt: skip
    body = await gql(loaded.client, TREND, variables)
    assert no_answer(body), body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body["errors"]
    if reason is not None:
        (error,) = body["errors"]
        assert error["extensions"]["reason"] == reason
        assert error["extensions"]["calendar"] == changes["calendar"]
        assert set(error["extensions"]["supported"]) == {"from", "to"}


async def test_a_week_start_with_days_or_months_changes_nothing(loaded: Loaded) -> None:
    """weekStart shapes WEEK periods only (a dashboard may send it with every trend)."""
    for granularity in ("DAY", "MONTH"):
        variables = {"kind": "RESPONSE_COUNT", "granularity": granularity, "source": "RAW",
                     "window": window_input(SPANS["2024"]), "timezone": "Asia/Tehran"}  # fmt: skip
        plain = (await gql_ok(loaded.client, TREND, variables))["trend"]
        saturday = await gql_ok(loaded.client, TREND, {**variables, "weekStart": "SATURDAY"})
        assert [(p["label"], p["result"]["n"]) for p in saturday["trend"]] == [
            (p["label"], p["result"]["n"]) for p in plain
        ]


# -- cxgraph tenants ------------------------------------------------------------------------


async def test_tenant_calendar_and_week_start_from_the_cli(
    cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("tenants", "create", "fa", "--calendar", "persian",
                         "--week-start", "saturday") == 0  # fmt: skip
    shown = json.loads(capsys.readouterr().out)
    assert (shown["calendar"], shown["weekStart"], shown["timezone"]) == (
        "PERSIAN", "SATURDAY", "UTC")  # fmt: skip
    assert shown["fromTenantDocument"] == ["calendar", "weekStart"]
    assert await run_cli("tenants", "set", "fa", "--calendar", "ISLAMIC_UMALQURA") == 0
    assert json.loads(capsys.readouterr().out)["calendar"] == "ISLAMIC_UMALQURA"
    assert await run_cli("tenants", "set", "fa", "--calendar", "MAYAN") == 2
    assert await run_cli("tenants", "set", "fa", "--week-start", "FRIDAY") == 2
    assert await run_cli("tenants", "set", "fa", "--calendar", '{"$gt": ""}') == 2
    capsys.readouterr()
    assert await run_cli("tenants", "show", "fa") == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["calendar"], shown["weekStart"]) == ("ISLAMIC_UMALQURA", "SATURDAY")
