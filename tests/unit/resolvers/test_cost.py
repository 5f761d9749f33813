"""The query cost model, on documents alone (no database)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from resolvers.cost import query_cost

PAGE = 50


def cost(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> int:
    return query_cost(parse(query), name, variables or {}, PAGE)


def test_scalars_come_with_their_object_and_pages_multiply() -> None:
    assert cost("{ customers { edges { node { id name } } } }") == 1 + PAGE * 2
    assert cost("{ customers(first: 500) { edges { node { id } } } }") == 1 + 500 * 2
    assert cost("query($n: Int) { customers(first: $n) { edges { node { id } } } }",
                {"n": 7}) == 1 + 7 * 2  # fmt: skip


def test_nested_pages_multiply_each_other() -> None:
    nested = """{ customers(first: 100) { edges { node {
        touchpoints(first: 100) { edges { node { id } } } } } } }"""
    assert cost(nested) == 1 + 100 * (1 + 1 + (1 + 100 * 2))


def test_metric_fields_cost_the_work_they_imply() -> None:
    metric = cost("{ metric(kind: NPS) { n } }")
    two = cost("{ breakdown(kind: NPS, by: [SEGMENT, CHANNEL]) { result { n } } }")
    one = cost("{ breakdown(kind: NPS, by: [SEGMENT]) { result { n } } }")
    day = """{ trend(kind: NPS, granularity: DAY,
              window: {from: "2025-01-01T00:00:00Z", to: "2026-02-05T00:00:00Z"}) {
              result { n } } }"""
    month = day.replace("DAY", "MONTH")
    assert metric == 11
    assert two > one > metric
    assert cost(day) == 1 + 10 + 400 + 1  # 400 daily periods, each a result
    assert cost(month) < cost(day)


def test_fragments_and_the_chosen_operation_count() -> None:
    doc = """
      query A { ...F }
      query B { metric(kind: NPS) { n } }
      fragment F on Query { customers(first: 3) { edges { node { id } } } }"""
    assert cost(doc, name="A") == 1 + 3 * 2
    assert cost(doc, name="B") == 11
    assert cost(doc, name="C") == 0


@pytest.mark.parametrize("window", ['{from: "x", to: "y"}', '{from: "2026-01-01T00:00:00"}'])
def test_a_bad_window_costs_the_default_and_is_left_to_the_resolver(window: str) -> None:
    assert cost(f"{{ trend(kind: NPS, granularity: DAY, window: {window}) {{ result {{ n }} }} }}"
                ) == 1 + 10 + 30 + 1  # fmt: skip
