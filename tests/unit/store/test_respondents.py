"""Respondents, not answers, and the CES direction: cells and formulas, numbers by hand.

A response's answers of one metric (scale, direction) are one respondent: their mean. The
per-component family keeps one mean per response and component (docs/metrics.md, "The unit
of analysis"). CES answers on an effort scale (highIsEasy false) are easy at the bottom.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from scipy import stats

from service.domain.metrics import formulas
from service.domain.metrics.cells import (
    RESPONSE,
    Cell,
    CellFilter,
    CellKey,
    group_cells,
    per_component,
)
from service.domain.metrics.query import MetricQuery
from service.domain.metrics.timeframe import Window
from service.domain.model import Dimension, MetricKind
from service.metrics.survey import family_of, needs_raw
from service.store import rollup_format
from service.store.document_cells import add_document, to_cells

# t(0.975, df) for df 2 and 8 (scipy; 4.3027 and 2.3060 in any table)
T2, T8 = float(stats.t.ppf(0.975, 2)), float(stats.t.ppf(0.975, 8))


def answer(metric: str, value: float, component: str | None = None, **more: Any) -> dict[str, Any]:
    lo, hi = (0, 10) if metric == "NPS" else (1, 7) if metric == "CES" else (1, 5)
    return {"metric": metric, "value": value, "scale": {"min": lo, "max": hi},
            "component": component, **more}  # fmt: skip


def cells_of(*answers: dict[str, Any]) -> dict[str, dict[CellKey, Counter[float]]]:
    out: dict[Any, Any] = {}
    add_document(out, {"segments": ["a"], "journey": "j", "answers": list(answers)}, None)
    cells = to_cells(out)
    return {family: {k: c.hist for k, c in found.items()} for (_, family), found in cells.items()}


def key(components: tuple[str, ...], scale: tuple[int, int] = (1, 5), easy: bool = True
        ) -> CellKey:  # fmt: skip
    return CellKey(("a",), "j", None, None, components, scale, easy)


# -- one respondent per response -----------------------------------------------------------------


def test_one_response_rating_three_components_is_one_respondent() -> None:
    cells = cells_of(answer("COMPONENT", 5, "PRICE"), answer("COMPONENT", 1, "PEOPLE"),
                     answer("COMPONENT", 3, "PRODUCT"))  # fmt: skip
    # the metric's family: one value, the mean (5 + 1 + 3)/3 = 3, under its three components
    assert cells["COMPONENT"] == {key(("PEOPLE", "PRICE", "PRODUCT")): Counter({3.0: 1})}
    # per component: one value each
    assert cells[per_component("COMPONENT")] == {
        key(("PRICE",)): Counter({5.0: 1}),
        key(("PEOPLE",)): Counter({1.0: 1}),
        key(("PRODUCT",)): Counter({3.0: 1}),
    }
    assert cells[RESPONSE] == {key(("PEOPLE", "PRICE", "PRODUCT"), (0, 1)): Counter({1: 1})}
    total = formulas.from_histogram(MetricKind.COMPONENT_SCORE, Counter({3.0: 1}), (1, 5))
    assert (total.n, total.value, total.ci_low, total.margin_of_error) == (1, 50.0, None, None)


def test_two_answers_to_one_component_are_its_mean_and_other_metrics_stay_apart() -> None:
    cells = cells_of(answer("COMPONENT", 5, "PRICE"), answer("COMPONENT", 2, "PRICE"),
                     answer("CSAT", 4), answer("CES", 2, highIsEasy=False))  # fmt: skip
    assert cells["COMPONENT"] == {key(("PRICE",)): Counter({3.5: 1})}
    assert cells[per_component("COMPONENT")] == {key(("PRICE",)): Counter({3.5: 1})}
    assert cells["CSAT"] == {key(()): Counter({4: 1})}
    assert cells["CES"] == {key((), (1, 7), easy=False): Counter({2: 1})}


def test_answers_of_one_metric_on_two_scales_or_directions_are_two_values() -> None:
    seven = answer("CES", 6)
    five = {**answer("CES", 2), "scale": {"min": 1, "max": 5}}
    effort = answer("CES", 2, highIsEasy=False)
    cells = cells_of(seven, five, effort, answer("CES", 4, highIsEasy=True))
    assert cells["CES"] == {
        key((), (1, 7)): Counter({5.0: 1}),  # 6 and 4 (highIsEasy said true: the default)
        key((), (1, 5)): Counter({2: 1}),
        key((), (1, 7), easy=False): Counter({2: 1}),
    }


def test_respondent_interval_is_wider_than_the_answer_level_one() -> None:
    """Three respondents, each rating three components alike: 5, 1 and 3 on 1–5."""
    respondents = Counter({5: 1, 1: 1, 3: 1})
    answers = Counter({5: 3, 1: 3, 3: 3})  # what counting answers saw
    mine = formulas.from_histogram(MetricKind.COMPONENT_SCORE, respondents, (1, 5))
    old = formulas.from_histogram(MetricKind.COMPONENT_SCORE, answers, (1, 5))
    # rescaled 100, 0, 50: mean 50, s = 50; n = 3: 4.3027 · 50/√3 = 124.21 (clipped to 0–100)
    assert (mine.n, mine.value, mine.numerator, mine.denominator) == (3, 50.0, 150.0, 3)
    assert mine.margin_of_error == pytest.approx(T2 * 50 / math.sqrt(3), rel=1e-12)
    assert (mine.ci_low, mine.ci_high) == (0.0, 100.0)
    # nine answers: s = √(6·2500/8) = 43.30, 2.3060 · 43.30/3 = 33.28
    assert old.n == 9
    assert old.margin_of_error == pytest.approx(T8 * math.sqrt(6 * 2500 / 8) / 3, rel=1e-12)
    assert mine.margin_of_error is not None and old.margin_of_error is not None
    assert mine.margin_of_error > 3 * old.margin_of_error


def test_a_respondents_mean_falls_in_a_box_by_the_same_rule_as_an_answer() -> None:
    # CSAT 1–5: means 4.5 (top two: ≥ 4), 3.5 (not), 4 (top two)
    csat = formulas.from_histogram(MetricKind.CSAT, Counter({4.5: 1, 3.5: 1, 4: 1}), (1, 5))
    assert (csat.n, csat.numerator, csat.value) == (3, 2, pytest.approx(200 / 3))
    # NPS: 9 is a promoter, 8.5 a passive, 6.5 a passive, 6 a detractor
    nps = formulas.from_histogram(MetricKind.NPS, Counter({9: 1, 8.5: 1, 6.5: 1, 6: 1}), (0, 10))
    assert nps.distribution == formulas.Distribution(1, 2, 1)


# -- which cells a query reads -------------------------------------------------------------------

WINDOW = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))


def query(kind: MetricKind = MetricKind.COMPONENT_SCORE, by: tuple[Dimension, ...] = (),
          **flt: frozenset[str]) -> MetricQuery:  # fmt: skip
    return MetricQuery(kind=kind, window=WINDOW, filter=CellFilter(**flt), by=by)


@pytest.mark.parametrize(
    ("q", "family", "raw"),
    [
        (query(), "COMPONENT", False),
        (query(by=(Dimension.COMPONENT,)), "COMPONENT/COMPONENT", False),
        (query(by=(Dimension.SEGMENT,)), "COMPONENT", False),
        (query(components=frozenset({"PRICE"})), "COMPONENT/COMPONENT", False),
        (query(components=frozenset()), "COMPONENT/COMPONENT", False),  # matches nothing
        # a mean over two components' answers of each response: only raw documents hold it
        (query(components=frozenset({"PRICE", "PEOPLE"})), "COMPONENT", True),
        (
            query(by=(Dimension.COMPONENT,), components=frozenset({"PRICE", "PEOPLE"})),
            "COMPONENT/COMPONENT",
            False,
        ),
        (query(questions=frozenset({"q1"})), "COMPONENT", True),
        (
            query(MetricKind.RESPONSE_COUNT, components=frozenset({"PRICE", "PEOPLE"})),
            RESPONSE,
            False,
        ),
        (query(MetricKind.RESPONSE_COUNT, questions=frozenset({"q1"})), RESPONSE, True),
        (query(MetricKind.CES_PERCENT_EASY), "CES", False),
    ],
)
def test_the_cells_a_query_reads(q: MetricQuery, family: str, raw: bool) -> None:
    assert (family_of(q), needs_raw(q)) == (family, raw)


def test_group_cells_keep_directions_apart() -> None:
    agree, effort = key((), (1, 7)), key((), (1, 7), easy=False)
    grouped = group_cells(
        [(None, Cell(agree, Counter({7: 2}))), (None, Cell(effort, Counter({1: 1})))],
        CellFilter(), (),
    )  # fmt: skip
    assert grouped[(None, ())].by_scale == {
        ((1, 7), True): Counter({7: 2}), ((1, 7), False): Counter({1: 1})
    }  # fmt: skip


def test_a_stored_day_keeps_the_direction_and_the_means() -> None:
    cells = [Cell(key((), (1, 7), easy=False), Counter({2: 3})),
             Cell(key(("PRICE",)), Counter({3.5: 1, 4: 2}))]  # fmt: skip
    day = rollup_format.unpack(rollup_format.pack(cells))
    assert [(c.key, c.hist) for c in day.cells()] == [(c.key, c.hist) for c in cells]
    assert day.offsets[1] == -1  # a mean off the integer points is stored sparse


# -- CES on an effort scale ----------------------------------------------------------------------

# 1–7: two answers of 1, one each of 2, 3, 6 and 7
CES_HIST = Counter({1: 2, 2: 1, 3: 1, 6: 1, 7: 1})


def test_percent_easy_counts_the_bottom_two_points_of_an_effort_scale() -> None:
    effort = formulas.from_histogram(MetricKind.CES_PERCENT_EASY, CES_HIST, (1, 7), False)
    agree = formulas.from_histogram(MetricKind.CES_PERCENT_EASY, CES_HIST, (1, 7), True)
    assert (effort.numerator, effort.n, effort.value, effort.high_is_easy) == (3, 6, 50.0, False)
    assert (agree.numerator, agree.n, agree.value, agree.high_is_easy) == (
        2, 6, pytest.approx(100 / 3), True,
    )  # fmt: skip


def test_the_ces_mean_is_the_mean_either_way_and_says_its_direction() -> None:
    effort = formulas.from_histogram(MetricKind.CES, CES_HIST, (1, 7), False)
    assert (effort.value, effort.numerator, effort.high_is_easy) == (20 / 6, 20.0, False)
    assert formulas.from_histogram(MetricKind.CSAT, Counter({5: 1}), (1, 5)).high_is_easy is None
    assert formulas.empty(MetricKind.CES).high_is_easy is None
