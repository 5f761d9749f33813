"""The demo data set: a deterministic, realistic customer-experience history for one tenant.

:func:`generate` builds the records (pure: one ``random.Random(seed)``, no I/O) and
:func:`load_demo` writes them through the :class:`~service.ingest.service.Ingestor`, the path
partner CRMs use, so loading the demo also exercises validation, idempotency and the segment
snapshots. A second load of the same seed and end date changes nothing.

The story: customers in four segments (one of them, ``vip``, on top of another) walk two
journeys stage by stage, so every funnel narrows; some open support cases, most resolved at
the first contact; surveys follow the touchpoints, and their answers come from one latent
feeling per customer moved by segment, channel, stage and case outcome, so breakdowns differ.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from time import perf_counter
from typing import Any, TypeVar

from service.domain.model import AnswerMetric, Channel, Component, Phase, RecordStatus
from service.ingest.service import BulkOutcome, Ingestor
from service.metrics import rebuild
from service.settings import Settings
from service.store.client import Mongo
from service.store.indexes import CUSTOMERS, JOURNEYS, SURVEY_RESPONSES, TOUCHPOINTS
from service.tenancy.directory import TenantDirectory

SOURCE = "demo-crm"
Record = dict[str, Any]
T = TypeVar("T")

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

# --- the cast ---------------------------------------------------------------------------

SEGMENTS = {"consumer": 0.60, "smb": 0.30, "enterprise": 0.10}  # primary segment shares
VIP = "vip"
VIP_CHANCE = {"consumer": 0.05, "smb": 0.08, "enterprise": 0.25}
CHURN_SHARE = 0.10
CHURN_WEIGHT = {"consumer": 1.4, "smb": 1.0, "enterprise": 0.6}  # vip: x0.4
REVENUE = {"consumer": 400.0, "smb": 6_000.0, "enterprise": 60_000.0}  # median per customer
MOOD = {"consumer": 1.3, "smb": 1.1, "enterprise": 1.4}  # latent feeling; vip +0.8

# fmt: off
FIRST_NAMES = ("Sara", "Reza", "Maryam", "Ali", "Emma", "Noah", "Leila", "Omid", "Olivia", "Liam",
               "Nasrin", "Kian", "Sophia", "Lucas", "Parisa", "Arash", "Mia", "Ethan", "Zahra")
LAST_NAMES = ("Ahmadi", "Smith", "Karimi", "Johnson", "Hosseini", "Brown", "Rahimi", "Garcia",
              "Moradi", "Miller", "Jafari", "Davis", "Rostami", "Wilson", "Sadeghi", "Taylor")
# fmt: on
COMPANY_KINDS = ("Trading", "Logistics", "Studio", "Foods", "Systems", "Clinic", "Partners")
REGIONS = ("north", "south", "east", "west", "capital")
ACQUISITION = ("organic", "referral", "paid_search", "partner", "social")


# --- the journeys -----------------------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    key: str
    name: str
    phase: Phase
    kind: str  # what a touchpoint at this stage is
    channels: Mapping[Channel, float]
    topics: tuple[Component, ...]  # the CX components a touchpoint here is about
    advance: float = 0.0  # share of customers here who go on to the next stage
    gap_days: float = 7.0  # mean wait before the next stage
    visits: int = 1  # at most this many touchpoints at the stage
    cases: float = 0.0  # expected support cases opened here
    survey_weight: float = 1.0  # how likely a survey follows a touchpoint here
    mood: float = 0.0  # how the stage tends to feel


@dataclass(frozen=True)
class JourneySpec:
    key: str
    name: str
    entry: Mapping[str, float]  # chance a customer of the primary segment starts it
    stages: tuple[StageSpec, ...]


C = Channel
CASE_CHANNELS = {C.PHONE: 4.0, C.CHAT: 4.0, C.EMAIL: 2.0}
CASE_KINDS = {C.PHONE: "support_call", C.CHAT: "support_chat", C.EMAIL: "support_email"}
SUPPORT_TOPICS = (Component.PEOPLE, Component.PROCESSES)

ONLINE_PURCHASE = JourneySpec("online-purchase", "Online purchase",
    entry={"consumer": 0.9, "smb": 0.7, "enterprise": 0.45},
    stages=(
        StageSpec("discover", "Discover", Phase.PRE_PURCHASE, "visit",
                  {C.WEB: 5, C.MOBILE_APP: 3, C.SOCIAL: 2, C.EMAIL: 1.5, C.STORE: 1},
                  (Component.COMMUNICATIONS, Component.CHANNELS),
                  advance=0.7, gap_days=4, visits=4, survey_weight=0.2),
        StageSpec("compare", "Compare", Phase.PRE_PURCHASE, "product_view",
                  {C.WEB: 5, C.MOBILE_APP: 3, C.CHAT: 1, C.STORE: 1},
                  (Component.PRODUCT, Component.PRICE),
                  advance=0.6, gap_days=3, visits=3, survey_weight=0.3, mood=-0.1),
        StageSpec("checkout", "Checkout", Phase.PURCHASE, "purchase",
                  {C.WEB: 5, C.MOBILE_APP: 3, C.STORE: 1.5, C.PHONE: 0.5},
                  (Component.PROCESSES, Component.PRICE),
                  advance=0.95, gap_days=2, cases=0.04, survey_weight=3, mood=0.2),
        StageSpec("delivery", "Delivery", Phase.POST_PURCHASE, "delivery",
                  {C.EMAIL: 3, C.MOBILE_APP: 2, C.WEB: 1, C.STORE: 1},
                  (Component.PROCESSES, Component.CHANNELS),
                  advance=0.35, gap_days=8, visits=2, cases=0.18, survey_weight=2, mood=-0.2),
        StageSpec("review", "Review", Phase.POST_PURCHASE, "review",
                  {C.WEB: 3, C.MOBILE_APP: 2, C.SOCIAL: 2},
                  (Component.PRODUCT, Component.COMMUNICATIONS), mood=0.3),
    ),
)  # fmt: skip

SERVICE_PLAN = JourneySpec("service-plan", "Service plan",
    entry={"consumer": 0.3, "smb": 0.6, "enterprise": 0.8},
    stages=(
        StageSpec("consult", "Consultation", Phase.PRE_PURCHASE, "consultation",
                  {C.PHONE: 3, C.STORE: 2, C.CHAT: 2, C.WEB: 1},
                  (Component.PEOPLE, Component.PRODUCT),
                  advance=0.55, gap_days=5, visits=2, survey_weight=1.5, mood=0.2),
        StageSpec("subscribe", "Subscribe", Phase.PURCHASE, "subscription",
                  {C.WEB: 3, C.PHONE: 2, C.STORE: 1.5, C.MOBILE_APP: 1},
                  (Component.PRICE, Component.PROCESSES),
                  advance=0.9, gap_days=3, survey_weight=2.5),
        StageSpec("onboarding", "Onboarding", Phase.POST_PURCHASE, "onboarding_session",
                  {C.MOBILE_APP: 3, C.WEB: 2, C.PHONE: 1.5, C.EMAIL: 1.5},
                  (Component.PRODUCT, Component.PEOPLE, Component.COMMUNICATIONS),
                  advance=0.5, gap_days=12, visits=3, survey_weight=1.5, mood=0.1),
        # Reached only by opening a case: its touchpoints are the case contacts.
        StageSpec("support", "Support", Phase.POST_PURCHASE, "support_call", CASE_CHANNELS,
                  SUPPORT_TOPICS, visits=0, cases=1.3, mood=-0.3),
    ),
)  # fmt: skip

JOURNEY_SPECS = (ONLINE_PURCHASE, SERVICE_PLAN)

# Touchpoints outside any journey: marketing, browsing, small talk (kind, channel, topics, weight).
AMBIENT: tuple[tuple[str, Channel, tuple[Component, ...], float], ...] = (
    ("newsletter_open", C.EMAIL, (Component.COMMUNICATIONS,), 4.0),
    ("visit", C.WEB, (Component.CHANNELS, Component.PRODUCT), 4.0),
    ("app_session", C.MOBILE_APP, (Component.CHANNELS, Component.PRODUCT), 4.0),
    ("social_mention", C.SOCIAL, (Component.COMMUNICATIONS, Component.PRODUCT), 1.5),
    ("store_visit", C.STORE, (Component.PEOPLE, Component.CHANNELS), 1.0),
    ("chat_question", C.CHAT, (Component.PEOPLE,), 0.7),
    ("sales_call", C.PHONE, (Component.PEOPLE, Component.PRICE), 0.5),
)
AMBIENT_SHARE = 0.65  # of the touchpoints left after the journeys; the rest are repeat visits

CONTACTS = {1: 0.72, 2: 0.18, 3: 0.10}  # contacts a case takes
SOLVED = {1: 0.95, 2: 0.85, 3: 0.6}  # chance the last of them resolves it
TOPIC_CHANCE = 0.4  # share of touchpoints tagged with a CX component

# --- the surveys ------------------------------------------------------------------------

M = AnswerMetric
SCALES = {M.NPS: (0, 10), M.CSAT: (1, 5), M.CES: (1, 7), M.EMOTION: (1, 5),
          M.VALUE_FOR_EFFORT: (1, 5), M.COMPONENT: (1, 5)}  # fmt: skip
QUESTIONS = {
    M.NPS: "How likely are you to recommend us to a friend or colleague?",
    M.CSAT: "How satisfied were you with this experience?",
    M.CES: "How easy was it to get what you needed?",
    M.EMOTION: "How did this experience make you feel?",
    M.VALUE_FOR_EFFORT: "Was what you got worth the time and effort it took?",
}
COMPONENT_QUESTIONS = {
    Component.COMMUNICATIONS: "How clear and timely were our messages?",
    Component.PRODUCT: "How well does the product meet your needs?",
    Component.PROCESSES: "How smooth were ordering, delivery and billing?",
    Component.CHANNELS: "How easy was it to reach us the way you prefer?",
    Component.PEOPLE: "How helpful were our staff?",
    Component.PRICE: "How fair is our pricing?",
}
TEMPLATES = {  # four answers per response, by what the survey follows
    "relationship": (M.NPS, M.EMOTION, M.VALUE_FOR_EFFORT, M.COMPONENT),
    "support": (M.CSAT, M.CES, M.EMOTION, M.COMPONENT),
    Phase.PRE_PURCHASE: (M.CSAT, M.CES, M.EMOTION, M.COMPONENT),
    Phase.PURCHASE: (M.NPS, M.CSAT, M.VALUE_FOR_EFFORT, M.COMPONENT),
    Phase.POST_PURCHASE: (M.NPS, M.CSAT, M.EMOTION, M.COMPONENT),
}
RELATIONSHIP_SHARE = 0.2  # surveys sent to a customer rather than after a touchpoint
RELATIONSHIP_CHANNELS = {C.EMAIL: 7.0, C.WEB: 2.0, C.MOBILE_APP: 1.0}
CHANNEL_MOOD = {C.WEB: 0.0, C.MOBILE_APP: 0.25, C.EMAIL: -0.1, C.PHONE: 0.2, C.CHAT: -0.3,
                C.STORE: 0.4, C.SOCIAL: -0.5, C.OTHER: 0.0}  # fmt: skip
METRIC_MOOD = {M.NPS: 0.0, M.CSAT: 0.3, M.CES: 0.1, M.EMOTION: -0.1, M.VALUE_FOR_EFFORT: -0.2}
COMPONENT_MOOD = {Component.PRICE: -0.5, Component.PROCESSES: -0.2, Component.PEOPLE: 0.4,
                  Component.PRODUCT: 0.3, Component.CHANNELS: 0.1,
                  Component.COMMUNICATIONS: -0.1}  # fmt: skip
SHARPNESS = 1.3  # how strongly the latent feeling shows in the answers
COMMENT_CHANCE = 0.2
COMMENTS = {
    "good": ("Quick and friendly help.", "Delivery arrived early.", "Easy to find what I needed.",
             "Great value for the price.", "The staff really listened."),
    "fine": ("It was fine.", "OK overall, nothing special.", "Did the job."),
    "bad": ("Had to explain my problem twice.", "Waited too long on the phone.",
            "The app kept logging me out.", "Too expensive for what it is.",
            "Delivery was late and nobody told me."),
}  # fmt: skip


# --- the result -------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoData:
    journeys: list[Record]
    customers: list[Record]
    touchpoints: list[Record]
    responses: list[Record]
    window: tuple[datetime, datetime]  # the half-open period the activity covers, in UTC


@dataclass(frozen=True)
class DemoSummary:
    tenant: str
    seed: int
    end: date
    journeys: int
    customers: int
    touchpoints: int
    responses: int
    inserted: int
    updated: int
    unchanged: int
    seconds: float


# --- drafts: what generation knows before it becomes records ----------------------------


@dataclass
class _Customer:
    number: int
    segment: str  # the primary one
    vip: bool
    signed_up: datetime
    revenue: float
    name: str
    email: str
    attributes: dict[str, str]
    churned: datetime | None = None
    start: datetime = datetime.min  # set by _settle: active in the window from here ...
    stop: datetime = datetime.min  # ... to here (exclusive)
    mood: float = 0.0

    @property
    def external_id(self) -> str:
        return f"cus-{self.number:05d}"

    @property
    def ref(self) -> Record:
        return {"source": SOURCE, "externalId": self.external_id}


@dataclass
class _Touch:
    customer: _Customer
    at: datetime
    channel: Channel
    kind: str
    journey: str | None = None
    stage: StageSpec | None = None
    component: Component | None = None
    topics: tuple[Component, ...] = ()
    case: int | None = None
    resolved: bool | None = None
    mood: float = 0.0
    survey_weight: float = 0.0
    external_id: str = ""


@dataclass(frozen=True)
class _Span:
    """A stretch of time a customer spent at a stage: room for repeat visits."""

    customer: _Customer
    journey: str
    stage: StageSpec
    since: datetime
    until: datetime


# --- generation -------------------------------------------------------------------------


def generate(
    seed: int = 7,
    end: date | None = None,
    *,
    customers: int = 3000,
    touchpoints: int = 40000,
    responses: int = 10000,
    days: int = 180,
) -> DemoData:
    """The demo records for ``days`` days up to and including ``end`` (default: today, UTC)."""
    _check_sizes(customers, touchpoints, responses, days)
    rng = random.Random(seed)
    last_day = end or datetime.now(UTC).date()
    until = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + DAY
    since = until - timedelta(days=days)

    people = [_customer(rng, n + 1, since, until) for n in range(customers)]
    leaving = _churners(rng, people)
    for person in people:
        _settle(rng, person, since, until, churns=person.number in leaving)
    touches = _touches(rng, people, touchpoints)
    touchpoint_records = _touchpoint_records(touches)  # gives the touches their ids
    return DemoData(
        journeys=[_journey_record(j) for j in JOURNEY_SPECS],
        customers=[_customer_record(p) for p in people],
        touchpoints=touchpoint_records,
        responses=_responses(rng, people, touches, responses, until),
        window=(since, until),
    )


def _check_sizes(customers: int, touchpoints: int, responses: int, days: int) -> None:
    if min(customers, touchpoints, responses) < 0 or days < 1:
        raise ValueError("demo sizes must not be negative and days must be at least 1")
    if customers == 0 and touchpoints + responses > 0:
        raise ValueError("touchpoints and responses need at least one customer")


def _pick(rng: random.Random, weighted: Mapping[T, float]) -> T:
    return rng.choices(list(weighted), weights=list(weighted.values()))[0]


def _between(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A whole second in [lo, hi), or lo when the span is under a second."""
    seconds = int((hi - lo).total_seconds())
    return lo + timedelta(seconds=rng.randrange(seconds)) if seconds > 0 else lo


def _seconds(delta: timedelta) -> timedelta:
    return timedelta(seconds=round(delta.total_seconds()))


def _weighted_sample(rng: random.Random, items: Sequence[T], weights: Sequence[float],
                     k: int) -> list[T]:  # fmt: skip
    """k distinct items, each drawn in proportion to its weight (Efraimidis-Spirakis)."""
    keys = [rng.random() ** (1.0 / w) for w in weights]
    order = sorted(range(len(items)), key=keys.__getitem__, reverse=True)
    return [items[i] for i in sorted(order[:k])]


def _customer(rng: random.Random, number: int, since: datetime, until: datetime) -> _Customer:
    segment = _pick(rng, SEGMENTS)
    vip = rng.random() < VIP_CHANCE[segment]
    # Most customers predate the window; the newer ones sign up early enough to do something.
    if rng.random() < 0.65:
        signed_up = since - timedelta(seconds=rng.randrange(1, 730 * 86400))
    else:
        signed_up = _between(rng, since, since + (until - since) * 0.9)
    revenue = REVENUE[segment] * math.exp(rng.gauss(0, 0.7)) * (2.5 if vip else 1.0)
    first, last, kind = (rng.choice(names) for names in (FIRST_NAMES, LAST_NAMES, COMPANY_KINDS))
    name = f"{first} {last}" if segment == "consumer" else f"{last} {kind}"  # businesses
    slug = re.sub(r"[^a-z]+", ".", name.lower())
    return _Customer(
        number=number,
        segment=segment,
        vip=vip,
        signed_up=signed_up,
        revenue=round(revenue, 2),
        name=name,
        email=f"{slug}.{number}@example.com",
        attributes={"region": rng.choice(REGIONS), "acquisition": rng.choice(ACQUISITION)},
    )


def _churners(rng: random.Random, people: list[_Customer]) -> set[int]:
    """CHURN_SHARE of the customers leave inside the window: consumers most, vips least."""
    weights = [CHURN_WEIGHT[p.segment] * (0.4 if p.vip else 1.0) for p in people]
    leaving = _weighted_sample(rng, people, weights, round(CHURN_SHARE * len(people)))
    return {p.number for p in leaving}


def _settle(
    rng: random.Random, person: _Customer, since: datetime, until: datetime, *, churns: bool
) -> None:
    """The customer's active span in the window and latent feeling."""
    person.start = max(person.signed_up, since)
    person.stop = until
    if churns:
        # They stay at least a tenth of their time in the window, so they leave a trace.
        earliest = person.start + _seconds((until - person.start) * 0.1)
        person.churned = person.stop = _between(rng, earliest, until)
    person.mood = MOOD[person.segment] + rng.gauss(0, 0.8)
    person.mood += (0.8 if person.vip else 0.0) - (1.0 if person.churned else 0.0)


def _touches(rng: random.Random, people: list[_Customer], budget: int) -> list[_Touch]:
    """Exactly ``budget`` touchpoints: whole journeys first, then repeats and ambient ones."""
    cases = itertools.count(1)
    touches: list[_Touch] = []
    spans: list[_Span] = []
    # Whole customers only, in random order, so every funnel and case stays consistent.
    for person in rng.sample(people, len(people)):
        own, own_spans = _journeys_of(rng, person, cases)
        if len(own) <= budget - len(touches):
            touches.extend(own)
            spans.extend(own_spans)
    while len(touches) < budget:
        if spans and rng.random() > AMBIENT_SHARE:
            touches.append(_repeat(rng, rng.choice(spans)))
        else:
            touches.append(_ambient(rng, rng.choice(people)))
    touches.sort(key=lambda t: t.at)
    return touches


def _journeys_of(
    rng: random.Random, person: _Customer, cases: Iterator[int]
) -> tuple[list[_Touch], list[_Span]]:
    touches: list[_Touch] = []
    spans: list[_Span] = []
    for journey in JOURNEY_SPECS:
        if rng.random() < journey.entry[person.segment]:
            _walk(rng, person, journey, cases, touches, spans)
    return touches, spans


def _walk(
    rng: random.Random,
    person: _Customer,
    journey: JourneySpec,
    cases: Iterator[int],
    touches: list[_Touch],
    spans: list[_Span],
) -> None:
    """The customer goes through the stages in order until they stop or the data ends."""
    at = _between(rng, person.start, person.stop)
    for stage in journey.stages:
        gap = max(HOUR, _seconds(timedelta(days=rng.expovariate(1 / stage.gap_days))))
        advances = rng.random() < stage.advance
        until = min(at + gap, person.stop)
        for i in range(rng.randint(1, stage.visits) if stage.visits else 0):
            visit_at = at if i == 0 else _between(rng, at, until)
            touches.append(_visit(rng, person, journey.key, stage, visit_at))
        if stage.visits > 1:
            spans.append(_Span(person, journey.key, stage, at, until))
        touches.extend(_cases_at(rng, person, journey.key, stage, at, cases))
        if not advances or at + gap >= person.stop:
            return
        at += gap


def _visit(
    rng: random.Random, person: _Customer, journey: str, stage: StageSpec, at: datetime
) -> _Touch:
    return _Touch(
        customer=person,
        at=at,
        channel=_pick(rng, stage.channels),
        kind=stage.kind,
        journey=journey,
        stage=stage,
        component=_topic(rng, stage.topics),
        topics=stage.topics,
        mood=stage.mood,
        survey_weight=stage.survey_weight,
    )


def _topic(rng: random.Random, topics: tuple[Component, ...]) -> Component | None:
    return rng.choice(topics) if topics and rng.random() < TOPIC_CHANCE else None


def _cases_at(
    rng: random.Random,
    person: _Customer,
    journey: str,
    stage: StageSpec,
    at: datetime,
    cases: Iterator[int],
) -> list[_Touch]:
    count = int(stage.cases) + (rng.random() < stage.cases % 1)
    # A stage reached only through a case opens it at the stage's moment.
    opened = at if stage.visits == 0 else _between(rng, at, at + 3 * DAY)
    contacts: list[_Touch] = []
    for _ in range(count):
        if opened >= person.stop:
            break
        contacts.extend(_case(rng, person, journey, stage, next(cases), opened))
        opened += timedelta(seconds=rng.randrange(3 * 86400, 30 * 86400))
    return contacts


def _case(
    rng: random.Random,
    person: _Customer,
    journey: str,
    stage: StageSpec,
    number: int,
    opened: datetime,
) -> list[_Touch]:
    """1-3 contacts; the last resolves the case unless it stays open (or the data ends first)."""
    planned = _pick(rng, CONTACTS)
    solved = rng.random() < SOLVED[planned]
    channel = _pick(rng, CASE_CHANNELS)
    at = opened
    contacts = []
    for i in range(planned):
        if at >= person.stop:
            break
        resolved = solved and i == planned - 1
        feeling = (0.5 if i == 0 else -0.2) if resolved else -0.9
        contacts.append(_Touch(
            customer=person, at=at, channel=channel, kind=CASE_KINDS[channel],
            journey=journey, stage=stage, component=_topic(rng, SUPPORT_TOPICS),
            topics=SUPPORT_TOPICS, case=number, resolved=resolved,
            mood=stage.mood + feeling, survey_weight=3.0 if resolved else 1.0,
        ))  # fmt: skip
        at += timedelta(seconds=rng.randrange(2 * 3600, 3 * 86400))
        if rng.random() < 0.35:  # handed over to another channel
            channel = _pick(rng, CASE_CHANNELS)
    return contacts


def _repeat(rng: random.Random, span: _Span) -> _Touch:
    at = _between(rng, span.since, span.until)
    return _visit(rng, span.customer, span.journey, span.stage, at)


def _ambient(rng: random.Random, person: _Customer) -> _Touch:
    kind, channel, topics, _ = rng.choices(AMBIENT, weights=[a[3] for a in AMBIENT])[0]
    at = _between(rng, person.start, person.stop)
    return _Touch(person, at, channel, kind, component=_topic(rng, topics), topics=topics)


# --- responses --------------------------------------------------------------------------


def _responses(
    rng: random.Random,
    people: list[_Customer],
    touches: list[_Touch],
    count: int,
    until: datetime,
) -> list[Record]:
    """Most surveys follow a touchpoint (purchases and resolved cases most often)."""
    pool = [t for t in touches if t.survey_weight > 0]
    relationship = round(count * RELATIONSHIP_SHARE) if pool else count
    following = count - relationship
    weights = [t.survey_weight for t in pool]
    picked = _weighted_sample(rng, pool, weights, min(following, len(pool)))
    if following > len(picked):  # more surveys than touchpoints: some get two
        picked += rng.choices(pool, weights=weights, k=following - len(picked))
    drafts = [_after(rng, t, until) for t in picked]
    drafts += [_relationship(rng, rng.choice(people)) for _ in range(relationship)]
    drafts.sort(key=lambda d: d["submittedAt"])
    return [
        {"source": SOURCE, "externalId": f"sr-{n:05d}", **draft}
        for n, draft in enumerate(drafts, 1)
    ]


def _after(rng: random.Random, touch: _Touch, until: datetime) -> Record:
    at = touch.at + timedelta(seconds=rng.randrange(300, 2 * 86400))
    if at >= until:  # the survey came back before the data ends
        at = touch.at + _seconds((until - touch.at) / 2)
    assert touch.stage is not None and touch.journey is not None
    template = TEMPLATES["support" if touch.case is not None else touch.stage.phase]
    feeling = touch.customer.mood + CHANNEL_MOOD[touch.channel] + touch.mood
    topic = touch.component or rng.choice(touch.topics)
    return {
        "customer": touch.customer.ref,
        "touchpoint": {"source": SOURCE, "externalId": touch.external_id},
        "journey": touch.journey,
        "stage": touch.stage.key,
        "channel": touch.channel.value,
        "submittedAt": at,
        **_survey(rng, template, feeling, topic),
    }


def _relationship(rng: random.Random, person: _Customer) -> Record:
    channel = _pick(rng, RELATIONSHIP_CHANNELS)
    feeling = person.mood + CHANNEL_MOOD[channel]
    return {
        "customer": person.ref,
        "channel": channel.value,
        "submittedAt": _between(rng, person.start, person.stop),
        **_survey(rng, TEMPLATES["relationship"], feeling, rng.choice(list(Component))),
    }


def _survey(
    rng: random.Random, metrics: Sequence[AnswerMetric], feeling: float, topic: Component
) -> Record:
    answers = [_answer(rng, metric, feeling, topic) for metric in metrics]
    out: Record = {"answers": answers}
    if rng.random() < COMMENT_CHANCE:
        out["comment"] = rng.choice(COMMENTS[_tone(answers)])
    return out


def _answer(rng: random.Random, metric: AnswerMetric, feeling: float, topic: Component) -> Record:
    low, high = SCALES[metric]
    if metric is M.COMPONENT:
        shift, question = COMPONENT_MOOD[topic], COMPONENT_QUESTIONS[topic]
    else:
        shift, question = METRIC_MOOD[metric], QUESTIONS[metric]
    share = 1 / (1 + math.exp(-(SHARPNESS * feeling + shift + rng.gauss(0, 0.7))))
    answer: Record = {
        "question": question,
        "metric": metric.value,
        "value": min(high, max(low, round(low + share * (high - low)))),
        "scaleMin": low,
        "scaleMax": high,
    }
    if metric is M.COMPONENT:
        answer["component"] = topic.value
    return answer


def _tone(answers: list[Record]) -> str:
    share = sum((a["value"] - a["scaleMin"]) / (a["scaleMax"] - a["scaleMin"]) for a in answers)
    share /= len(answers)
    return "good" if share >= 0.7 else "bad" if share <= 0.45 else "fine"


# --- records ----------------------------------------------------------------------------


def _journey_record(journey: JourneySpec) -> Record:
    stages = [{"key": s.key, "name": s.name, "phase": s.phase.value} for s in journey.stages]
    return {"key": journey.key, "name": journey.name, "stages": stages}


def _customer_record(person: _Customer) -> Record:
    record: Record = {
        "source": SOURCE,
        "externalId": person.external_id,
        "name": person.name,
        "email": person.email,
        "segments": sorted([person.segment, VIP] if person.vip else [person.segment]),
        "attributes": dict(person.attributes),
        "signedUpAt": person.signed_up,
        "revenue": person.revenue,
    }
    if person.churned is not None:
        record["churnedAt"] = person.churned
    return record


def _touchpoint_records(touches: list[_Touch]) -> list[Record]:
    """Ids follow time, and so do case ids (by each case's first contact)."""
    case_ids: dict[int, str] = {}
    records = []
    for n, touch in enumerate(touches, 1):
        touch.external_id = f"tp-{n:06d}"
        record: Record = {
            "source": SOURCE,
            "externalId": touch.external_id,
            "customer": touch.customer.ref,
            "channel": touch.channel.value,
            "kind": touch.kind,
            "occurredAt": touch.at,
        }
        if touch.journey and touch.stage:
            record.update(journey=touch.journey, stage=touch.stage.key)
        if touch.case is not None:
            case_id = case_ids.setdefault(touch.case, f"case-{len(case_ids) + 1:05d}")
            record.update(caseId=case_id, resolved=touch.resolved)
        if touch.component:
            record["component"] = touch.component.value
        records.append(record)
    return records


# --- loading ----------------------------------------------------------------------------

Writer = Callable[[str, Sequence[Any]], Awaitable[BulkOutcome]]
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_end(end: str | None) -> date | None:
    """``YYYY-MM-DD`` (the last day of the data) or None for today."""
    if end is None:
        return None
    try:
        if not _DATE.fullmatch(end):
            raise ValueError("expected YYYY-MM-DD")
        return date.fromisoformat(end)
    except ValueError as exc:
        raise ValueError(
            f"the demo end date must be a day as YYYY-MM-DD, not {end!r} ({exc})"
        ) from None


async def is_empty(mongo: Mongo, tenant: str) -> bool:
    """True when the tenant has no data at all (so loading the demo cannot mix with real data)."""
    for collection in (CUSTOMERS, TOUCHPOINTS, SURVEY_RESPONSES, JOURNEYS):
        if await mongo[collection].find_one({"tenant": tenant}, {"_id": 1}) is not None:
            return False
    return True


async def load_demo(
    mongo: Mongo,
    settings: Settings,
    tenant: str,
    *,
    seed: int = 7,
    end: str | None = None,
    customers: int = 3000,
    touchpoints: int = 40000,
    responses: int = 10000,
    days: int = 180,
) -> DemoSummary:
    """Generate the demo set and write it through the Ingestor; idempotent per seed and end."""
    started = perf_counter()
    last_day = parse_end(end) or datetime.now(UTC).date()
    # Generation is CPU-bound for about a second: keep the event loop free meanwhile.
    data = await asyncio.to_thread(
        generate, seed, last_day,
        customers=customers, touchpoints=touchpoints, responses=responses, days=days,
    )  # fmt: skip
    print(f"demo: loading seed {seed}, {days} days to {last_day} into tenant {tenant!r}",
          flush=True)  # fmt: skip
    ingestor = Ingestor(mongo, settings)
    for journey in data.journeys:
        await ingestor.define_journey(tenant, journey)
    tally: Counter[RecordStatus] = Counter()
    # Customers first, so touchpoints and responses snapshot their segments straight away.
    for name, records, write in (
        ("customers", data.customers, ingestor.upsert_customers),
        ("touchpoints", data.touchpoints, ingestor.record_touchpoints),
        ("responses", data.responses, ingestor.submit_survey_responses),
    ):
        tally += await _write_all(name, tenant, records, write, settings.max_batch)
    # Materialise the rollups now, so a newcomer's first dashboard does not wait for them.
    tz = (await TenantDirectory(mongo, settings).get(tenant)).tz
    await rebuild.warm(mongo, tenant, tz, _progress)
    seconds = perf_counter() - started
    print(f"demo: done in {seconds:.1f} s", flush=True)
    return DemoSummary(
        tenant=tenant,
        seed=seed,
        end=last_day,
        journeys=len(data.journeys),
        customers=len(data.customers),
        touchpoints=len(data.touchpoints),
        responses=len(data.responses),
        inserted=tally[RecordStatus.INSERTED],
        updated=tally[RecordStatus.UPDATED],
        unchanged=tally[RecordStatus.UNCHANGED],
        seconds=seconds,
    )


def _progress(line: str) -> None:
    print(f"demo: {line}", flush=True)


async def _write_all(
    name: str, tenant: str, records: list[Record], write: Writer, batch: int
) -> Counter[RecordStatus]:
    tally: Counter[RecordStatus] = Counter()
    step = max(1, math.ceil(len(records) / 10))  # a progress line about every 10%
    reported = 0
    for offset in range(0, len(records), batch):
        outcome = await write(tenant, records[offset : offset + batch])
        for result in outcome.results:
            if result.status is RecordStatus.REJECTED:
                error = result.error
                detail = f"{error.code} on {error.field}: {error.message}" if error else "no reason"
                raise RuntimeError(f"demo {name} record {result.external_id} rejected: {detail}")
            tally[result.status] += 1
        done = offset + len(outcome.results)
        if done - reported >= step or done == len(records):
            print(f"demo: {name} {done}/{len(records)}", flush=True)
            reported = done
    if not records:
        print(f"demo: {name} 0/0", flush=True)
    return tally
