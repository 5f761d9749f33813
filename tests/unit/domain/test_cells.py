"""Cells: filter semantics, group keys and merging (no database)."""

from __future__ import annotations

from collections import Counter

import pytest

from service.domain.metrics.cells import (
    Cell,
    CellFilter,
    CellKey,
    ScaledHistograms,
    group_cells,
    group_keys,
)
from service.domain.model import Dimension

SEG, JOUR, STAGE, CHAN, COMP = (
    Dimension.SEGMENT,
    Dimension.JOURNEY,
    Dimension.STAGE,
    Dimension.CHANNEL,
    Dimension.COMPONENT,
)


def key(
    segments: tuple[str, ...] = (),
    journey: str | None = None,
    stage: str | None = None,
    channel: str | None = None,
    components: tuple[str, ...] = (),
    scale: tuple[int, int] = (1, 5),
) -> CellKey:
    return CellKey(segments, journey, stage, channel, components, scale)


def cell(k: CellKey, **hist: int) -> Cell:
    return Cell(key=k, hist=Counter({float(v): c for v, c in hist.items()}))


def h(*pairs: tuple[float, int]) -> Counter[float]:
    return Counter(dict(pairs))


FULL = key(("a", "b"), "onboarding", "checkout", "WEB", ("PRICE",))


# -- filters ------------------------------------------------------------------------------------


def test_no_filter_matches_everything() -> None:
    assert CellFilter().matches(FULL)
    assert CellFilter().matches(key())


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (CellFilter(segments=frozenset({"b"})), True),
        (CellFilter(segments=frozenset({"x", "a"})), True),
        (CellFilter(segments=frozenset({"x"})), False),
        (CellFilter(journeys=frozenset({"onboarding", "other"})), True),
        (CellFilter(journeys=frozenset({"other"})), False),
        (CellFilter(stages=frozenset({"signup", "checkout"})), True),
        (CellFilter(stages=frozenset({"signup"})), False),
        (CellFilter(channels=frozenset({"EMAIL", "WEB"})), True),
        (CellFilter(channels=frozenset({"EMAIL"})), False),
        (CellFilter(components=frozenset({"PRICE", "PEOPLE"})), True),
        (CellFilter(components=frozenset({"PEOPLE"})), False),
    ],
)
def test_each_list_is_any_of(flt: CellFilter, expected: bool) -> None:
    assert flt.matches(FULL) is expected


def test_lists_combine_with_and() -> None:
    both = CellFilter(segments=frozenset({"a"}), channels=frozenset({"WEB"}))
    assert both.matches(FULL)
    one_fails = CellFilter(segments=frozenset({"a"}), channels=frozenset({"EMAIL"}))
    assert not one_fails.matches(FULL)


@pytest.mark.parametrize("field", ["segments", "journeys", "stages", "channels", "components"])
def test_an_empty_list_matches_nothing(field: str) -> None:
    flt = CellFilter(**{field: frozenset()})
    assert not flt.matches(FULL)
    assert not flt.matches(key())  # not even a cell whose value is null / empty


def test_a_list_never_matches_a_null_value() -> None:
    bare = key()
    assert not CellFilter(segments=frozenset({"a"})).matches(bare)
    assert not CellFilter(journeys=frozenset({"onboarding"})).matches(bare)
    assert not CellFilter(components=frozenset({"PRICE"})).matches(bare)


# -- group keys ---------------------------------------------------------------------------------


def test_no_dimension_is_one_unbroken_group() -> None:
    assert list(group_keys(FULL, ())) == [()]


def test_two_segments_fan_out() -> None:
    assert list(group_keys(FULL, (SEG,))) == [("a",), ("b",)]


def test_two_set_valued_dimensions_fan_out_as_a_product() -> None:
    k = key(("a", "b"), components=("PRICE", "PEOPLE"))
    assert list(group_keys(k, (SEG, COMP))) == [
        ("a", "PRICE"),
        ("a", "PEOPLE"),
        ("b", "PRICE"),
        ("b", "PEOPLE"),
    ]


def test_scalar_dimensions_in_order() -> None:
    assert list(group_keys(FULL, (CHAN, JOUR))) == [("WEB", "onboarding")]
    assert list(group_keys(FULL, (STAGE, SEG))) == [("checkout", "a"), ("checkout", "b")]


def test_missing_values_are_null_groups() -> None:
    bare = key()
    for dim in (SEG, JOUR, STAGE, CHAN, COMP):
        assert list(group_keys(bare, (dim,))) == [(None,)]
    assert list(group_keys(bare, (SEG, COMP))) == [(None, None)]


def test_components_filter_narrows_the_component_groups() -> None:
    k = key(components=("PEOPLE", "PRICE", "PRODUCT"))
    assert list(group_keys(k, (COMP,))) == [("PEOPLE",), ("PRICE",), ("PRODUCT",)]
    narrowed = frozenset({"PRICE", "PRODUCT", "CHANNELS"})
    assert list(group_keys(k, (COMP,), narrowed)) == [("PRICE",), ("PRODUCT",)]
    # the narrowing touches only COMPONENT, not the segments
    assert list(group_keys(key(("a", "b"), components=("PEOPLE", "PRICE")), (SEG, COMP),
                           frozenset({"PRICE"}))) == [("a", "PRICE"), ("b", "PRICE")]  # fmt: skip


def test_a_components_filter_leaving_none_is_a_null_group() -> None:
    # A cell that passed the filter always shares a component with it; the null group is
    # reached only through group_keys directly.
    assert list(group_keys(key(components=("PEOPLE",)), (COMP,), frozenset({"PRICE"}))) == [(None,)]


# -- group_cells --------------------------------------------------------------------------------


def test_a_response_in_two_segments_counts_once_per_segment_and_once_in_total() -> None:
    two = cell(key(("a", "b")), **{"5": 1})
    one = cell(key(("a",)), **{"3": 2})
    none = cell(key(), **{"1": 1})
    cells = [(None, two), (None, one), (None, none)]

    total = group_cells(cells, CellFilter(), ())
    assert total == {
        (None, ()): ScaledHistograms({((1, 5), True): h((5.0, 1), (3.0, 2), (1.0, 1))})
    }

    by_segment = group_cells(cells, CellFilter(), (SEG,))
    assert by_segment == {
        (None, ("a",)): ScaledHistograms({((1, 5), True): h((5.0, 1), (3.0, 2))}),
        (None, ("b",)): ScaledHistograms({((1, 5), True): h((5.0, 1))}),
        (None, (None,)): ScaledHistograms({((1, 5), True): h((1.0, 1))}),
    }


def test_a_filter_selects_records_then_groups_by_all_their_values() -> None:
    two = cell(key(("a", "b")), **{"5": 1})
    other = cell(key(("c",)), **{"2": 1})
    grouped = group_cells([(None, two), (None, other)], CellFilter(segments=frozenset({"a"})),
                          (SEG,))  # fmt: skip
    assert grouped == {
        (None, ("a",)): ScaledHistograms({((1, 5), True): h((5.0, 1))}),
        (None, ("b",)): ScaledHistograms({((1, 5), True): h((5.0, 1))}),
    }


def test_response_cells_grouped_only_under_the_components_asked_for() -> None:
    response = Cell(key(components=("PEOPLE", "PRICE"), scale=(0, 1)), Counter({1: 1}))
    elsewhere = Cell(key(components=("PRODUCT",), scale=(0, 1)), Counter({1: 4}))
    flt = CellFilter(components=frozenset({"PRICE"}))
    grouped = group_cells([(None, response), (None, elsewhere)], flt, (COMP,))
    assert grouped == {(None, ("PRICE",)): ScaledHistograms({((0, 1), True): Counter({1: 1})})}


def test_scales_are_kept_apart_and_periods_too() -> None:
    five = cell(key(journey="j1"), **{"4": 2})
    seven = cell(key(journey="j2", scale=(1, 7)), **{"6": 1})
    later = cell(key(journey="j1"), **{"4": 1})
    grouped = group_cells([(1.0, five), (1.0, seven), (2.0, later)], CellFilter(), ())
    assert grouped == {
        (1.0, ()): ScaledHistograms({((1, 5), True): h((4.0, 2)), ((1, 7), True): h((6.0, 1))}),
        (2.0, ()): ScaledHistograms({((1, 5), True): h((4.0, 1))}),
    }
    by_journey = group_cells([(1.0, five), (1.0, seven)], CellFilter(), (JOUR,))
    assert by_journey == {
        (1.0, ("j1",)): ScaledHistograms({((1, 5), True): h((4.0, 2))}),
        (1.0, ("j2",)): ScaledHistograms({((1, 7), True): h((6.0, 1))}),
    }


def test_merging_does_not_change_the_input_cells() -> None:
    a = cell(key(("a",)), **{"4": 2})
    b = cell(key(("a",)), **{"4": 3})
    group_cells([(None, a), (None, b)], CellFilter(), (SEG,))
    assert a.hist == h((4.0, 2))
    assert b.hist == h((4.0, 3))


def test_an_empty_list_filter_leaves_no_groups() -> None:
    cells = [(None, cell(FULL, **{"4": 1})), (None, cell(key(), **{"2": 1}))]
    assert group_cells(cells, CellFilter(segments=frozenset()), ()) == {}
    assert group_cells(cells, CellFilter(components=frozenset()), (COMP,)) == {}
