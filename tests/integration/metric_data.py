"""A seeded random CX data set for the metric tests, and a loader that sends it through GraphQL.

`generate(seed)` returns raw partner records (the dicts the GraphQL mutations take), so the
same records feed the service (through `load`) and the oracle (`tests.oracle.Dataset`).

What it covers on purpose:
- customers in one segment, in two, in none; some without `signedUpAt`, some churned, some
  without revenue; a few customers known only from their records (stubs, never sent);
- two journeys (4 and 3 stages) walked in order, with repeat visits and some customers who
  reach a later stage before an earlier one;
- support cases with 1–3 contacts, never two contacts of one case at the same instant, some
  cases opened before the test windows;
- survey responses with 1–4 answers of NPS (0–10), CSAT (1–5), CES (1–7), EMOTION (1–5),
  VALUE_FOR_EFFORT (1–5), COMPONENT (1–5 with its component), a few OTHER answers on another
  scale, and some without journey, stage or channel; some reference a touchpoint of another
  journey (a response's own fields count, never the touchpoint's);
- timestamps over ~70 days, in several UTC offsets, some exactly at UTC, Tehran and New York
  midnights, at the 2026-03-08 New York DST change and at the test windows' edges.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.graphql import (
    DEFINE_JOURNEY,
    RECORD_TOUCHPOINTS,
    SUBMIT_RESPONSES,
    UPSERT_CUSTOMERS,
    gql_ok,
)
from tests.oracle import Dataset
from tests.oracle.metrics import RESULT_KEYS

SOURCE = "cxdata"
TEHRAN = ZoneInfo("Asia/Tehran")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = (UTC, TEHRAN, NEW_YORK)

DATA_START = datetime(2026, 1, 20, tzinfo=UTC)
DATA_END = datetime(2026, 3, 31, tzinfo=UTC)  # 70 days

# The windows the tests query: one of whole UTC days, one ragged (partial days at both ends,
# bounds given in other offsets), one for trends crossing a month boundary and the New York
# DST change of 2026-03-08.
WHOLE_DAYS = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 20, tzinfo=UTC))
RAGGED = (
    datetime(2026, 2, 3, 9, 30, tzinfo=TEHRAN),
    datetime(2026, 3, 17, 18, 45, 10, tzinfo=NEW_YORK),
)
TREND = (
    datetime(2026, 2, 21, 13, 17, tzinfo=UTC),
    datetime(2026, 3, 10, 6, 0, tzinfo=NEW_YORK),
)
WINDOWS = {"whole_days": WHOLE_DAYS, "ragged": RAGGED, "trend": TREND}


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# Instants the data set puts records on exactly.
SPECIAL_INSTANTS: tuple[datetime, ...] = (
    # window edges
    *(bound.astimezone(UTC) for window in WINDOWS.values() for bound in window),
    # UTC midnights (month, ISO week and DST-day boundaries)
    _utc(2026, 2, 23),
    _utc(2026, 3, 1),
    _utc(2026, 3, 2),
    _utc(2026, 3, 8),
    _utc(2026, 3, 9),
    # Tehran midnights (20:30 UTC the day before)
    _utc(2026, 2, 22, 20, 30),
    _utc(2026, 2, 28, 20, 30),
    _utc(2026, 3, 1, 20, 30),
    _utc(2026, 3, 8, 20, 30),
    # New York midnights (05:00 UTC in EST, 04:00 UTC in EDT)
    _utc(2026, 2, 23, 5),
    _utc(2026, 3, 1, 5),
    _utc(2026, 3, 2, 5),
    _utc(2026, 3, 8, 5),
    _utc(2026, 3, 9, 4),
    # the DST change itself: 01:59:59 EST and 03:00 EDT
    _utc(2026, 3, 8, 6, 59, 59),
    _utc(2026, 3, 8, 7),
)

SEGMENTS = ("smb", "enterprise", "consumer", "vip", "partner")
CHANNELS = ("WEB", "MOBILE_APP", "EMAIL", "PHONE", "CHAT", "STORE", "SOCIAL", "OTHER")
COMPONENTS = ("COMMUNICATIONS", "PRODUCT", "PROCESSES", "CHANNELS", "PEOPLE", "PRICE")

JOURNEYS: list[dict[str, Any]] = [
    {
        "key": "onboarding",
        "name": "Onboarding",
        "stages": [
            {"key": "discover", "name": "Discover", "phase": "PRE_PURCHASE"},
            {"key": "signup", "name": "Sign up", "phase": "PRE_PURCHASE"},
            {"key": "checkout", "name": "Checkout", "phase": "PURCHASE"},
            {"key": "support", "name": "Support", "phase": "POST_PURCHASE"},
        ],
    },
    {
        "key": "renewal",
        "name": "Renewal",
        "stages": [
            {"key": "reminder", "name": "Reminder", "phase": "POST_PURCHASE"},
            {"key": "quote", "name": "Quote", "phase": "PURCHASE"},
            {"key": "renew", "name": "Renew", "phase": "PURCHASE"},
        ],
    },
]
STAGES = {j["key"]: [s["key"] for s in j["stages"]] for j in JOURNEYS}

# answer metric -> (scaleMin, scaleMax)
SCALES = {
    "NPS": (0, 10),
    "CSAT": (1, 5),
    "CES": (1, 7),
    "EMOTION": (1, 5),
    "VALUE_FOR_EFFORT": (1, 5),
    "COMPONENT": (1, 5),
}
# metrics whose answers sometimes take half points (never NPS: 6.5 is no clear category)
HALF_POINTS = frozenset({"CSAT", "EMOTION", "COMPONENT"})
# From this instant on, CES is asked on an effort scale ("how much effort", high = hard):
# after every test window but EFFORT_WINDOW, so the others read one direction only.
EFFORT_FROM = WHOLE_DAYS[1]
EFFORT_WINDOW = (EFFORT_FROM, DATA_END)
FOLLOW_UP = " (follow-up)"  # the question of every second answer of a response


@dataclass
class MetricData:
    customers: list[dict[str, Any]] = field(default_factory=list)
    touchpoints: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    journeys: list[dict[str, Any]] = field(default_factory=list)

    def dataset(self) -> Dataset:
        return Dataset(self.customers, self.touchpoints, self.responses, self.journeys)


def iso(moment: datetime, zone: Any = UTC) -> str:
    """The instant with the UTC offset of `zone` (partners send all sorts of offsets)."""
    return moment.astimezone(zone).isoformat()


def ref(external_id: str) -> dict[str, str]:
    return {"source": SOURCE, "externalId": external_id}


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def instant(self, start: datetime = DATA_START, end: datetime = DATA_END) -> datetime:
        """A whole second in [start, end)."""
        seconds = int((end - start).total_seconds())
        return start + timedelta(seconds=self.rnd.randrange(seconds))

    def text_time(self, moment: datetime) -> str:
        return iso(moment, self.rnd.choice(ZONES))

    def segments(self) -> list[str]:
        roll = self.rnd.random()
        if roll < 0.18:
            return []
        if roll < 0.78:
            return [self.rnd.choice(SEGMENTS)]
        return self.rnd.sample(SEGMENTS, 2)


def _customers(g: _Gen, count: int) -> list[dict[str, Any]]:
    rnd = g.rnd
    edges = [WHOLE_DAYS[0], RAGGED[0].astimezone(UTC), TREND[0]]
    out: list[dict[str, Any]] = []
    for i in range(count):
        record: dict[str, Any] = {
            "source": SOURCE,
            "externalId": f"cus-{i:03d}",
            "name": f"Customer {i}",
            "segments": g.segments(),
        }
        signed: datetime | None = None
        if rnd.random() >= 0.15:
            # signed up at a window's start exactly, or any time from mid-2025 on
            if i < len(edges):
                signed = edges[i]
            else:
                signed = g.instant(
                    datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 3, 25, tzinfo=UTC)
                )
            record["signedUpAt"] = g.text_time(signed)
        if rnd.random() < 0.35:
            low = signed if signed is not None else datetime(2025, 9, 1, tzinfo=UTC)
            low = max(low, datetime(2025, 12, 1, tzinfo=UTC))
            churned = g.instant(low, DATA_END) if low < DATA_END else low
            if 5 <= i < 5 + len(edges):
                churned = max(edges[i - 5], signed or edges[i - 5])  # churned at a window's start
            record["churnedAt"] = g.text_time(churned)
        if rnd.random() >= 0.2:
            record["revenue"] = round(rnd.uniform(0, 5000), 2)
        out.append(record)
    return out


def _journey_touchpoints(g: _Gen, customers: list[str], next_id: Any) -> list[dict[str, Any]]:
    rnd = g.rnd
    out: list[dict[str, Any]] = []
    for customer in customers:
        for journey, stages in STAGES.items():
            if rnd.random() < (0.35 if journey == "onboarding" else 0.5):
                continue
            reached = rnd.randint(1, len(stages))
            moment = g.instant(DATA_START, DATA_END - timedelta(days=12))
            for stage in stages[:reached]:
                visits = 1 if rnd.random() < 0.8 else 2
                for visit in range(visits):
                    when = moment + timedelta(hours=rnd.randint(1, 40) * visit)
                    record: dict[str, Any] = {
                        "source": SOURCE,
                        "externalId": next_id(),
                        "customer": ref(customer),
                        "channel": rnd.choice(CHANNELS),
                        "kind": "visit",
                        "occurredAt": g.text_time(when),
                        "journey": journey,
                        "stage": stage,
                    }
                    if rnd.random() < 0.2:
                        record["component"] = rnd.choice(COMPONENTS)
                    out.append(record)
                # mostly forwards, a few customers reach the next stage "earlier"
                step = timedelta(minutes=rnd.randint(10, 60 * 120))
                moment = moment - step if rnd.random() < 0.1 else moment + step
    return out


def _case_touchpoints(
    g: _Gen, customers: list[str], count: int, next_id: Any
) -> list[dict[str, Any]]:
    rnd = g.rnd
    out: list[dict[str, Any]] = []
    for i in range(count):
        customer = rnd.choice(customers)
        contacts = rnd.choices((1, 2, 3), weights=(0.6, 0.25, 0.15))[0]
        first = SPECIAL_INSTANTS[i] if i < len(SPECIAL_INSTANTS) else g.instant()
        # distinct instants: each later contact at least a minute after the previous one
        moments = [first]
        for _ in range(contacts - 1):
            # up to 9 days: some re-contacts fall past CX_FCR_RECONTACT_DAYS (7)
            moments.append(moments[-1] + timedelta(minutes=rnd.randint(1, 60 * 24 * 9)))
        # a few cases with a later contact exactly on a special instant
        if contacts > 1 and i % 7 == 3:
            special = rnd.choice(SPECIAL_INSTANTS)
            if special > moments[0] and special not in moments:
                moments[-1] = max(special, moments[-2] + timedelta(seconds=1))
        on_journey = rnd.random() < 0.4
        for moment in moments:
            record: dict[str, Any] = {
                "source": SOURCE,
                "externalId": next_id(),
                "customer": ref(customer),
                "channel": rnd.choice(("PHONE", "CHAT", "EMAIL", "WEB")),
                "kind": "support_call",
                "occurredAt": g.text_time(moment),
                "caseId": f"case-{i:03d}",
            }
            roll = rnd.random()
            if roll < 0.65:
                record["resolved"] = True
            elif roll < 0.9:
                record["resolved"] = False
            if on_journey:
                record["journey"] = "onboarding"
                record["stage"] = rnd.choice(("support", "checkout"))
            if rnd.random() < 0.6:
                record["component"] = rnd.choice(COMPONENTS)
            out.append(record)
    return out


def _answer(g: _Gen, metric: str) -> dict[str, Any]:
    rnd = g.rnd
    if metric == "OTHER":
        return {
            "question": "other",
            "metric": "OTHER",
            "value": rnd.randint(0, 100),
            "scaleMin": 0,
            "scaleMax": 100,
        }
    lo, hi = SCALES[metric]
    value: float = rnd.randint(lo, hi)
    if metric in HALF_POINTS and value < hi and rnd.random() < 0.15:
        value += 0.5
    record: dict[str, Any] = {
        "question": f"{metric.lower()} question",
        "metric": metric,
        "value": value,
        "scaleMin": lo,
        "scaleMax": hi,
    }
    if metric == "COMPONENT" or rnd.random() < 0.1:
        record["component"] = rnd.choice(COMPONENTS)
    return record


def _responses(
    g: _Gen, customers: list[str], touchpoints: list[str], count: int
) -> list[dict[str, Any]]:
    rnd = g.rnd
    metrics = [*SCALES]
    out: list[dict[str, Any]] = []
    for i in range(count):
        moment = SPECIAL_INSTANTS[i % len(SPECIAL_INSTANTS)] if i < 60 else g.instant()
        answers = [_answer(g, rnd.choice(metrics)) for _ in range(rnd.choices((1, 2, 3, 4))[0])]
        if rnd.random() < 0.05:
            answers.append(_answer(g, "OTHER"))
        record: dict[str, Any] = {
            "source": SOURCE,
            "externalId": f"resp-{i:04d}",
            "customer": ref(rnd.choice(customers)),
            "submittedAt": g.text_time(moment),
            "answers": answers,
        }
        roll = rnd.random()
        if roll < 0.7:
            journey = rnd.choice(list(STAGES))
            record["journey"] = journey
            record["stage"] = rnd.choice(STAGES[journey])
        elif roll < 0.8:
            record["journey"] = rnd.choice(list(STAGES))
        if rnd.random() >= 0.15:
            record["channel"] = rnd.choice(CHANNELS)
        if rnd.random() < 0.3:
            record["touchpoint"] = ref(rnd.choice(touchpoints))
        if rnd.random() < 0.1:
            record["comment"] = "thanks"
        _questions_and_directions(record, moment, i)
        out.append(record)
    return out


def _questions_and_directions(record: dict[str, Any], moment: datetime, i: int) -> None:
    """Without drawing: every second answer of a response is to a follow-up question (so
    some responses answer two questions of one metric); CES answers say `highIsEasy: false`
    from EFFORT_FROM on, and some before it say `true` (the default) explicitly."""
    for index, answer in enumerate(record["answers"]):
        if index % 2:
            answer["question"] += FOLLOW_UP
        if answer["metric"] == "CES":
            if moment >= EFFORT_FROM:
                answer["highIsEasy"] = False
            elif i % 3 == 0:
                answer["highIsEasy"] = True


def generate(
    seed: int = 20260308,
    *,
    customers: int = 48,
    stubs: int = 3,
    cases: int = 40,
    responses: int = 320,
) -> MetricData:
    """The data set; the same seed always gives the same records."""
    g = _Gen(seed)
    customer_records = _customers(g, customers)
    known = [c["externalId"] for c in customer_records]
    everyone = known + [f"stub-{i}" for i in range(stubs)]
    counter = iter(range(1, 1_000_000))

    def next_id() -> str:
        return f"tp-{next(counter):05d}"

    touchpoints = _journey_touchpoints(g, everyone, next_id)
    touchpoints += _case_touchpoints(g, everyone, cases, next_id)
    # a few touchpoints off any journey, some on a journey without a stage
    for _ in range(20):
        record: dict[str, Any] = {
            "source": SOURCE,
            "externalId": next_id(),
            "customer": ref(g.rnd.choice(everyone)),
            "channel": g.rnd.choice(CHANNELS),
            "kind": "browse",
            "occurredAt": g.text_time(g.instant()),
        }
        if g.rnd.random() < 0.3:
            record["journey"] = g.rnd.choice(list(STAGES))
        touchpoints.append(record)
    response_records = _responses(g, everyone, [t["externalId"] for t in touchpoints], responses)
    return MetricData(
        customers=customer_records,
        touchpoints=touchpoints,
        responses=response_records,
        journeys=[dict(j) for j in JOURNEYS],
    )


# --------------------------------------------------------------------------- loading

BATCH = 1000


async def _send(
    client: httpx.AsyncClient, document: str, field_name: str, records: list[dict[str, Any]]
) -> int:
    version = 0
    for start in range(0, len(records), BATCH):
        batch = records[start : start + BATCH]
        data = await gql_ok(client, document, {"input": batch})
        result = data[field_name]
        rejected = [r for r in result["results"] if r["status"] == "REJECTED"]
        assert not rejected, rejected[:5]
        assert result["inserted"] == len(batch), result
        version = int(result["dataVersion"])
    return version


async def load(client: httpx.AsyncClient, data: MetricData) -> tuple[Dataset, int]:
    """Send the records through the mutations (journeys and customers first) and return the
    oracle's Dataset of the same records with the tenant's data version after the writes."""
    for journey in data.journeys:
        await gql_ok(client, DEFINE_JOURNEY, {"input": journey})
    version = 0
    for document, name, records in (
        (UPSERT_CUSTOMERS, "upsertCustomers", data.customers),
        (RECORD_TOUCHPOINTS, "recordTouchpoints", data.touchpoints),
        (SUBMIT_RESPONSES, "submitSurveyResponses", data.responses),
    ):
        if records:
            version = await _send(client, document, name, records)
    return data.dataset(), version


# --------------------------------------------------------------------------- comparing

RESULT_FIELDS = """kind value n numerator denominator scaleMin scaleMax
confidenceInterval { low high level } marginOfError lowSample dataVersion
distribution { promoters passives detractors } highIsEasy"""

FLOAT_KEYS = frozenset({"value", "numerator", "denominator", "low", "high", "marginOfError"})
SURVEY_KINDS = (
    "NPS",
    "NPS_MEAN_LIKELIHOOD",
    "CSAT",
    "CSAT_SCORE_PERCENT",
    "CES",
    "CES_PERCENT_EASY",
    "EMOTION",
    "VALUE_FOR_EFFORT",
    "COMPONENT_SCORE",
    "RESPONSE_COUNT",
)
CUSTOMER_KINDS = ("RETENTION_RATE", "RETENTION_RATE_NET", "CHURN_RATE", "CLV")
ALL_KINDS = (*SURVEY_KINDS, "FCR", *CUSTOMER_KINDS)


def window_input(window: tuple[datetime, datetime]) -> dict[str, str]:
    """A window as the GraphQL TimeWindow input, each bound in its own offset."""
    return {"from": window[0].isoformat(), "to": window[1].isoformat()}


_NOT_ASKED = object()


def observed(result: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL MetricResult in the oracle's shape."""
    interval = result["confidenceInterval"]
    return {
        "value": result["value"],
        "n": result["n"],
        "numerator": result["numerator"],
        "denominator": result["denominator"],
        "scaleMin": result["scaleMin"],
        "scaleMax": result["scaleMax"],
        "low": interval["low"] if interval else None,
        "high": interval["high"] if interval else None,
        "marginOfError": result["marginOfError"],
        "lowSample": result["lowSample"],
        "distribution": result["distribution"],
        # a document that does not ask for it leaves it out of the comparison
        "highIsEasy": result.get("highIsEasy", _NOT_ASKED),
    }


def close(actual: Any, expected: Any) -> bool:
    """Floats to rel/abs 1e-9; None, counts and everything else exactly."""
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, bool) or isinstance(expected, bool):
        return bool(actual == expected) and type(actual) is type(expected)
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return bool(actual == pytest.approx(expected, rel=1e-9, abs=1e-9))
    return bool(actual == expected)


def result_mismatches(
    actual: dict[str, Any],
    expected: dict[str, Any],
    where: str = "",
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Every field where the service's MetricResult and the oracle's differ (but `skip`)."""
    got = observed(actual)
    out: list[str] = []
    for key in RESULT_KEYS:
        if key in skip or got[key] is _NOT_ASKED:
            continue
        a, e = got[key], expected[key]
        if key in FLOAT_KEYS:
            ok = close(a, e)
        else:
            # counts, scales, flags and the distribution: exact
            ok = (a is None and e is None) or (a is not None and e is not None and a == e)
            if key == "lowSample":
                ok = isinstance(a, bool) and a == bool(e)
        if not ok:
            out.append(f"{where}{key}: service {a!r} != oracle {e!r}")
    interval = actual["confidenceInterval"]
    if interval is not None and interval["level"] != 0.95:
        out.append(f"{where}confidenceInterval.level: {interval['level']!r} != 0.95")
    return out


# GraphQL documents the metric tests send (METRIC takes an optional minDataVersion $v).
FRAGMENT = f"fragment R on MetricResult {{ {RESULT_FIELDS} }}"
METRIC = (
    "query($kind: MetricKind!, $window: TimeWindow, $filter: MetricFilter, "
    "$source: MetricSource!, $v: Int) { metric(kind: $kind, window: $window, filter: $filter, "
    "source: $source, minDataVersion: $v) { ...R } } " + FRAGMENT
)
BREAKDOWN = (
    "query($kind: MetricKind!, $by: [Dimension!]!, $window: TimeWindow, $filter: MetricFilter, "
    "$source: MetricSource!) { breakdown(kind: $kind, by: $by, window: $window, "
    "filter: $filter, source: $source) { keys { dimension value } result { ...R } } } " + FRAGMENT
)
TREND_QUERY = (
    "query($kind: MetricKind!, $granularity: Granularity!, $window: TimeWindow!, "
    "$timezone: String, $filter: MetricFilter, $source: MetricSource!) { trend(kind: $kind, "
    "granularity: $granularity, window: $window, timezone: $timezone, filter: $filter, "
    "source: $source) { periodStart result { ...R } } } " + FRAGMENT
)
COMPARE = (
    "query($kind: MetricKind!, $a: Comparand!, $b: Comparand!) { compare(kind: $kind, a: $a, "
    "b: $b) { a { ...R } b { ...R } difference pValue significant } } " + FRAGMENT
)
