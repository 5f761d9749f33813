"""Relay connections: walking every list to its end, page-size and cursor errors, filters."""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.graphql import error_codes, gql, gql_ok
from tests.integration.builders import (
    at,
    counts,
    customer,
    define_journey,
    iso,
    record_touchpoints,
    response,
    submit_responses,
    touchpoint,
    upsert_customers,
)

CHANNELS = ["WEB", "EMAIL", "PHONE", "CHAT"]
STAGES = ["signup", "checkout", "support"]
PLUS_5 = timezone(timedelta(hours=5))
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"


@dataclass(frozen=True)
class Sent:
    """A record as the test sent it, with the id the service gave it."""

    id: str
    external_id: str
    customer: str
    channel: str | None
    journey: str | None
    stage: str | None
    time: datetime


@dataclass
class Dataset:
    customer_ids: dict[str, str]  # externalId -> id
    touchpoints: list[Sent]
    responses: list[Sent]


def _ordered(records: list[Sent]) -> list[str]:
    return [r.external_id for r in sorted(records, key=lambda r: (r.time, r.id))]


def _attrs(i: int) -> tuple[str, str | None, str | None, datetime]:
    """customer, journey, stage and time of record i: three records share each instant."""
    journey = None if i % 5 == 0 else "onboarding"
    stage = STAGES[(i // 5) % 3] if journey else None
    return f"c{(i // 2) % 4}", journey, stage, at(i // 3)


@pytest.fixture
async def dataset(client: httpx.AsyncClient) -> Dataset:
    await define_journey(client)
    customers = await upsert_customers(
        client, [customer(f"c{i}", segments=["even" if i % 2 == 0 else "odd"]) for i in range(4)]
    )
    customer_ids = {r["externalId"]: r["id"] for r in customers["results"]}
    shuffle = random.Random(20260301)

    tp_records, tp_sent = [], []
    for i in range(60):
        who, journey, stage, when = _attrs(i)
        # Every fourth instant is sent with another offset: the same moment.
        occurred = iso(when.astimezone(PLUS_5)) if i % 4 == 3 else iso(when)
        record = touchpoint(f"t{i:02d}", who, occurred_at=occurred, channel=CHANNELS[i % 4])
        if journey:
            record.update(journey=journey, stage=stage)
        tp_records.append(record)
        tp_sent.append((f"t{i:02d}", who, CHANNELS[i % 4], journey, stage, when))
    order = list(range(60))
    shuffle.shuffle(order)
    result = await record_touchpoints(client, [tp_records[i] for i in order])
    assert counts(result) == (60, 0, 0, 0)
    tp_ids = {r["externalId"]: r["id"] for r in result["results"]}

    sr_records, sr_sent = [], []
    for i in range(30):
        who, journey, stage, when = _attrs(i)
        channel = None if i % 4 == 3 else CHANNELS[i % 4]
        record = response(f"r{i:02d}", who, submitted_at=when)
        if journey:
            record.update(journey=journey, stage=stage)
        if channel:
            record["channel"] = channel
        sr_records.append(record)
        sr_sent.append((f"r{i:02d}", who, channel, journey, stage, when))
    order = list(range(30))
    shuffle.shuffle(order)
    result = await submit_responses(client, [sr_records[i] for i in order])
    assert counts(result) == (30, 0, 0, 0)
    sr_ids = {r["externalId"]: r["id"] for r in result["results"]}

    return Dataset(
        customer_ids=customer_ids,
        touchpoints=[Sent(tp_ids[s[0]], *s) for s in tp_sent],
        responses=[Sent(sr_ids[s[0]], *s) for s in sr_sent],
    )


LISTS = {
    "touchpoints": "touchpoints(filter: $f, first: $n, after: $a, orderBy: $o)",
    "surveyResponses": "surveyResponses(filter: $f, first: $n, after: $a, orderBy: $o)",
}


async def fetch_page(
    client: httpx.AsyncClient,
    field: str,
    flt: dict[str, Any] | None,
    first: int | None,
    after: str | None,
    order: str = "OLDEST_FIRST",
) -> dict[str, Any]:
    query = (
        "query($f: RecordFilter, $n: Int, $a: String, $o: RecordOrder!) { "
        + LISTS[field]
        + " { edges { cursor node { id externalId } } "
        + PAGE_INFO
        + " } }"
    )
    data = await gql_ok(client, query, {"f": flt, "n": first, "a": after, "o": order})
    page: dict[str, Any] = data[field]
    return page


async def walk(
    client: httpx.AsyncClient,
    field: str,
    flt: dict[str, Any] | None,
    size: int,
    order: str = "OLDEST_FIRST",
) -> tuple[list[str], list[int]]:
    """Every record of a list, page by page; also the size of each page. Checks pageInfo."""
    seen: list[str] = []
    sizes: list[int] = []
    after = None
    while True:
        page = await fetch_page(client, field, flt, size, after, order)
        edges, info = page["edges"], page["pageInfo"]
        sizes.append(len(edges))
        seen += [e["node"]["externalId"] for e in edges]
        assert info["hasPreviousPage"] is (after is not None)
        if edges:
            assert info["startCursor"] == edges[0]["cursor"]
            assert info["endCursor"] == edges[-1]["cursor"]
        else:
            assert (info["startCursor"], info["endCursor"]) == (None, None)
        assert len(edges) <= size
        if not info["hasNextPage"]:
            return seen, sizes
        assert len(edges) == size
        after = info["endCursor"]
        assert len(sizes) < 100, "the walk does not end"


async def test_walking_touchpoints_sees_each_once_in_time_then_id_order(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    seen, sizes = await walk(client, "touchpoints", None, 7)

    assert sizes == [7] * 8 + [4]
    assert len(seen) == len(set(seen)) == 60
    assert seen == _ordered(dataset.touchpoints)


async def test_walking_survey_responses_sees_each_once_in_order(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    seen, sizes = await walk(client, "surveyResponses", None, 4)

    assert sizes == [4] * 7 + [2]
    assert len(seen) == len(set(seen)) == 30
    assert seen == _ordered(dataset.responses)


async def test_a_page_ending_exactly_at_the_end_has_no_next_page(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    seen, sizes = await walk(client, "surveyResponses", None, 10)

    assert sizes == [10, 10, 10]
    assert seen == _ordered(dataset.responses)


async def test_default_and_largest_page_sizes(client: httpx.AsyncClient, dataset: Dataset) -> None:
    default = await fetch_page(client, "touchpoints", None, None, None)
    assert len(default["edges"]) == 50
    assert default["pageInfo"]["hasNextPage"] is True
    rest = await fetch_page(client, "touchpoints", None, None, default["pageInfo"]["endCursor"])
    assert len(rest["edges"]) == 10
    assert rest["pageInfo"]["hasNextPage"] is False
    both = [e["node"]["externalId"] for e in default["edges"] + rest["edges"]]
    assert both == _ordered(dataset.touchpoints)

    largest = await fetch_page(client, "touchpoints", None, 500, None)
    assert len(largest["edges"]) == 60
    assert largest["pageInfo"]["hasNextPage"] is False


async def test_records_written_between_pages_are_neither_repeated_nor_skipped_ahead(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    first = await fetch_page(client, "touchpoints", None, 30, None)
    await record_touchpoints(
        client,
        [
            touchpoint("early", "c0", occurred_at=at(-1)),  # before the cursor: not seen now
            touchpoint("late", "c0", occurred_at=at(100)),  # after it: seen
        ],
    )
    second = await fetch_page(client, "touchpoints", None, 500, first["pageInfo"]["endCursor"])

    seen = [e["node"]["externalId"] for e in first["edges"] + second["edges"]]
    assert seen == [*_ordered(dataset.touchpoints), "late"]


CUSTOMERS_PAGE = (
    "query($s: String, $n: Int, $a: String) { customers(segment: $s, first: $n, after: $a) "
    "{ edges { cursor node { id externalId } } " + PAGE_INFO + " } }"
)


async def test_walking_customers_by_id(client: httpx.AsyncClient) -> None:
    result = await upsert_customers(
        client, [customer(f"k{i:02d}", segments=["s3" if i % 3 == 0 else "x"]) for i in range(23)]
    )
    expected = sorted(r["id"] for r in result["results"])

    async def walk_customers(segment: str | None) -> tuple[list[str], list[int]]:
        seen: list[str] = []
        sizes: list[int] = []
        after = None
        while True:
            data = await gql_ok(client, CUSTOMERS_PAGE, {"s": segment, "n": 5, "a": after})
            page = data["customers"]
            sizes.append(len(page["edges"]))
            seen += [e["node"]["id"] for e in page["edges"]]
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            if not page["pageInfo"]["hasNextPage"]:
                return seen, sizes
            after = page["pageInfo"]["endCursor"]

    seen, sizes = await walk_customers(None)
    assert sizes == [5, 5, 5, 5, 3]
    assert seen == expected

    in_segment = sorted(r["id"] for i, r in enumerate(result["results"]) if i % 3 == 0)
    seen, sizes = await walk_customers("s3")
    assert sizes == [5, 3]
    assert seen == in_segment


def nested_page_query(field: str) -> str:
    return (
        "query($id: ID, $n: Int, $a: String, $o: RecordOrder!) { customer(id: $id) { " + field
        + "(first: $n, after: $a, orderBy: $o) { edges { cursor node { externalId } } "
        + PAGE_INFO + " } } }"
    )  # fmt: skip


@pytest.mark.parametrize("order", ["OLDEST_FIRST", "NEWEST_FIRST"])
@pytest.mark.parametrize("field", ["touchpoints", "surveyResponses"])
async def test_walking_a_customers_own_records(
    client: httpx.AsyncClient, dataset: Dataset, field: str, order: str
) -> None:
    records = dataset.touchpoints if field == "touchpoints" else dataset.responses
    expected = _ordered([r for r in records if r.customer == "c1"])
    if order == "NEWEST_FIRST":
        expected.reverse()
    seen: list[str] = []
    after = None
    while True:
        data = await gql_ok(
            client,
            nested_page_query(field),
            {"id": dataset.customer_ids["c1"], "n": 3, "a": after, "o": order},
        )
        page = data["customer"][field]
        assert len(page["edges"]) <= 3
        seen += [e["node"]["externalId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert len(expected) > 3
    assert seen == expected


PAGE_SIZE_QUERIES = {
    "touchpoints": "query($n: Int) { touchpoints(first: $n) { edges { cursor } } }",
    "surveyResponses": "query($n: Int) { surveyResponses(first: $n) { edges { cursor } } }",
    "customers": "query($n: Int) { customers(first: $n) { edges { cursor } } }",
    "nested": 'query($n: Int) { customer(ref: {source: "crm", externalId: "c1"}) '
    "{ touchpoints(first: $n) { edges { cursor } } } }",
}


@pytest.mark.parametrize("first", [0, -1, 501])
@pytest.mark.parametrize("list_name", list(PAGE_SIZE_QUERIES))
async def test_a_page_size_outside_1_to_500_is_refused(
    client: httpx.AsyncClient, dataset: Dataset, list_name: str, first: int
) -> None:
    body = await gql(client, PAGE_SIZE_QUERIES[list_name], {"n": first})

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["reason"] == "INVALID_PAGE_SIZE"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


GARBAGE_CURSORS = [
    "garbage",
    "!!!",
    _b64(b"not json"),
    _b64(b'{"a": 1}'),
    _b64(b"[1, 2]"),
    _b64(b'["not a time", "tp_x"]'),
    _b64(b'["2026-03-01T10:00:00+00:00"]'),
]


@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
@pytest.mark.parametrize("field", ["touchpoints", "surveyResponses"])
async def test_a_garbage_cursor_is_refused(
    client: httpx.AsyncClient, dataset: Dataset, field: str, cursor: str
) -> None:
    query = "query($a: String) { " + field + "(after: $a) { edges { cursor } } }"

    body = await gql(client, query, {"a": cursor})

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["reason"] == "INVALID_CURSOR"


async def test_a_customers_cursor_is_not_a_touchpoints_cursor(
    client: httpx.AsyncClient, dataset: Dataset
) -> None:
    data = await gql_ok(client, "{ customers(first: 1) { pageInfo { endCursor } } }")
    cursor = data["customers"]["pageInfo"]["endCursor"]

    body = await gql(client, "query($a: String) { touchpoints(after: $a) { edges { cursor } } }",
                     {"a": cursor})  # fmt: skip

    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["reason"] == "INVALID_CURSOR"


def _matches(r: Sent, spec: dict[str, Any]) -> bool:
    if "customer" in spec and r.customer != spec["customer"]:
        return False
    for name in ("journey", "stage", "channel"):
        if name in spec and getattr(r, name) != spec[name]:
            return False
    if "window" in spec:
        start, end = spec["window"]
        return start <= r.time < end
    return True


FILTERS = [
    {"customer": "c1"},
    {"journey": "onboarding"},
    {"stage": "checkout"},
    {"journey": "onboarding", "stage": "support"},
    {"channel": "EMAIL"},
    {"channel": "STORE"},  # nobody
    {"window": (at(5), at(10))},  # records exactly at both ends exist
    {"window": (at(5), at(5) + timedelta(milliseconds=1))},
    {"window": (at(-60), at(0))},  # ends where the first records are: none
    {"journey": "onboarding", "channel": "WEB", "window": (at(2), at(15))},
    {"customer": "c2", "stage": "signup", "window": (at(0), at(20))},
]


def _graphql_filter(spec: dict[str, Any], dataset: Dataset, offset: timezone) -> dict[str, Any]:
    flt = {k: v for k, v in spec.items() if k not in ("customer", "window")}
    if "customer" in spec:
        flt["customer"] = dataset.customer_ids[spec["customer"]]
    if "window" in spec:
        start, end = spec["window"]
        flt["window"] = {"from": iso(start.astimezone(offset)), "to": iso(end.astimezone(offset))}
    return flt


@pytest.mark.parametrize("spec", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
@pytest.mark.parametrize("field", ["touchpoints", "surveyResponses"])
async def test_filters_return_exactly_the_matching_records(
    client: httpx.AsyncClient, dataset: Dataset, field: str, spec: dict[str, Any]
) -> None:
    records = dataset.touchpoints if field == "touchpoints" else dataset.responses
    expected = _ordered([r for r in records if _matches(r, spec)])

    for offset in (UTC, PLUS_5):  # the same instants, written with another offset
        seen, _ = await walk(client, field, _graphql_filter(spec, dataset, offset), 7)
        assert seen == expected
    newest, _ = await walk(client, field, _graphql_filter(spec, dataset, UTC), 7, "NEWEST_FIRST")
    assert newest == expected[::-1]


async def test_the_window_is_half_open(client: httpx.AsyncClient, dataset: Dataset) -> None:
    flt = {"window": {"from": iso(at(5)), "to": iso(at(10))}}

    seen, _ = await walk(client, "touchpoints", flt, 50)

    by_id = {r.external_id: r for r in dataset.touchpoints}
    times = sorted({by_id[x].time for x in seen})
    assert times == [at(m) for m in range(5, 10)]
    assert len(seen) == 15  # three records at each of the five instants


@pytest.mark.parametrize("field", ["touchpoints", "surveyResponses"])
async def test_a_reversed_or_empty_window_is_refused(
    client: httpx.AsyncClient, dataset: Dataset, field: str
) -> None:
    query = "query($f: RecordFilter) { " + field + "(filter: $f) { edges { cursor } } }"
    for start, end in ((at(10), at(5)), (at(5), at(5))):
        body = await gql(client, query, {"f": {"window": {"from": iso(start), "to": iso(end)}}})
        assert error_codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["reason"] == "INVALID_WINDOW"
