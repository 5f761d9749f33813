"""Every page of every connection, and the funnel's scan, is served by an index.

The embedded database reads every document of a collection for a query no index serves, so
a page after a cursor that misses its index costs the whole collection (issue 16). These ask
the embedded database's own planner (``explain``) which index each query walks.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from service.domain.metrics.cells import CellFilter
from service.domain.metrics.timeframe import Window
from service.domain.records import RecordFilter
from service.store.indexes import CUSTOMERS, SURVEY_RESPONSES, TOUCHPOINTS
from service.store.pagination import page_pipeline
from service.store.record_pages import record_query
from service.store.touchpoints import entries_pipeline, visits_pipeline

START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
AT = datetime(2026, 3, 9, 12, 30, tzinfo=UTC)


def _cursor(value: Any, doc_id: str) -> str:
    raw = json.dumps([value, doc_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def _index_of(db: Any, collection: str, pipeline: list[dict[str, Any]]) -> str | None:
    """The index the plan walks, or None for a collection scan."""
    explained = await db.command("aggregate", collection, pipeline=pipeline, explain=True)
    stage = explained["queryPlanner"]["winningPlan"]
    while stage.get("stage") != "IXSCAN":
        if "inputStage" not in stage:
            return None
        stage = stage["inputStage"]
    name: str = stage["indexName"]
    return name


TIME_INDEX = {TOUCHPOINTS: "tenant_1_occurredAt_1__id_1",
              SURVEY_RESPONSES: "tenant_1_submittedAt_1__id_1"}  # fmt: skip
CUSTOMER_INDEX = {TOUCHPOINTS: "tenant_1_customerId_1_occurredAt_1",
                  SURVEY_RESPONSES: "tenant_1_customerId_1_submittedAt_1"}  # fmt: skip
JOURNEY_INDEX = {TOUCHPOINTS: "tenant_1_journey_1_occurredAt_1__id_1",
                 SURVEY_RESPONSES: TIME_INDEX[SURVEY_RESPONSES]}  # fmt: skip
STAGE_INDEX = {TOUCHPOINTS: "tenant_1_journey_1_stage_1_occurredAt_1__id_1",
               SURVEY_RESPONSES: TIME_INDEX[SURVEY_RESPONSES]}  # fmt: skip

# filter -> the index that serves it, per collection
FILTERS: list[tuple[RecordFilter, dict[str, str]]] = [
    (RecordFilter(), TIME_INDEX),
    (RecordFilter(start=START, end=END), TIME_INDEX),
    (RecordFilter(start=START), TIME_INDEX),
    (RecordFilter(end=END), TIME_INDEX),
    (RecordFilter(customer_id="cus_1"), CUSTOMER_INDEX),
    (RecordFilter(customer_id="cus_1", stage="s", start=START, end=END), CUSTOMER_INDEX),
    (RecordFilter(journey="j"), JOURNEY_INDEX),
    (RecordFilter(journey="j", stage="s"), STAGE_INDEX),
    (RecordFilter(journey="j", stage="s", channel="WEB", start=START), STAGE_INDEX),
    (RecordFilter(journey="j", channel="EMAIL", start=START, end=END), JOURNEY_INDEX),
    (RecordFilter(stage="s"), TIME_INDEX),
    (RecordFilter(channel="EMAIL"), TIME_INDEX),
]


@pytest.mark.parametrize("newest_first", [False, True], ids=["oldest", "newest"])
@pytest.mark.parametrize("collection", [TOUCHPOINTS, SURVEY_RESPONSES])
@pytest.mark.parametrize("flt,expected", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
async def test_a_page_after_a_cursor_walks_its_index(
    db: Any, collection: str, flt: RecordFilter, expected: dict[str, str], newest_first: bool
) -> None:
    indexed, residual = record_query(collection, "t1", flt)
    time_field = "occurredAt" if collection == TOUCHPOINTS else "submittedAt"
    after = _cursor(AT.isoformat(), "x_1")

    pipeline = page_pipeline(indexed, time_field, 50, after, residual=residual,
                             descending=newest_first)  # fmt: skip

    assert await _index_of(db, collection, pipeline) == expected[collection]


@pytest.mark.parametrize("collection", [TOUCHPOINTS, SURVEY_RESPONSES])
@pytest.mark.parametrize("flt,expected", FILTERS, ids=[str(i) for i in range(len(FILTERS))])
async def test_a_first_page_walks_an_index(
    db: Any, collection: str, flt: RecordFilter, expected: dict[str, str]
) -> None:
    indexed, residual = record_query(collection, "t1", flt)
    time_field = "occurredAt" if collection == TOUCHPOINTS else "submittedAt"

    pipeline = page_pipeline(indexed, time_field, 50, None, residual=residual)

    # Without a bound on time the tenant alone picks the index: any that leads with it.
    assert await _index_of(db, collection, pipeline) is not None


@pytest.mark.parametrize(
    "segment,expected", [(None, "tenant_1__id_1"), ("vip", "tenant_1_segments_1__id_1")]
)
async def test_a_customers_page_after_a_cursor_walks_its_index(
    db: Any, segment: str | None, expected: str
) -> None:
    indexed: dict[str, Any] = (
        {"tenant": "t1"} if segment is None else {"tenant": "t1", "segments": segment}
    )
    pipeline = page_pipeline(indexed, "_id", 50, _cursor("cus_5", "cus_5"))

    assert await _index_of(db, CUSTOMERS, pipeline) == expected


@pytest.mark.parametrize(
    "flt",
    [CellFilter(), CellFilter(segments=frozenset({"vip"}), channels=frozenset({"WEB", "EMAIL"}))],
    ids=["all", "filtered"],
)
async def test_the_funnels_reads_walk_the_journey_index(db: Any, flt: CellFilter) -> None:
    window = Window(START, END)
    entries = entries_pipeline("t1", "j", "first", window, flt)
    visits = visits_pipeline("t1", "j", window, flt)

    assert await _index_of(db, TOUCHPOINTS, entries) == STAGE_INDEX[TOUCHPOINTS]
    assert await _index_of(db, TOUCHPOINTS, visits) == "tenant_1_journey_1_occurredAt_1__id_1"
