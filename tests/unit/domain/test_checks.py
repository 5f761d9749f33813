"""Field checks: each bad value fails its own record with a code, never the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.domain.ingest import codes
from service.domain.ingest.checks import RecordInvalid, integer, number, string, timestamp


@pytest.mark.parametrize("value", [1e400, float("nan"), float("-inf"), 2.5, "3", True, None])
def test_integer_refuses_what_is_not_a_finite_whole_number(value: object) -> None:
    with pytest.raises(RecordInvalid) as caught:
        integer({"scaleMin": value}, "scaleMin", path="answers[0].")
    expected = codes.REQUIRED if value is None else codes.WRONG_TYPE
    assert (caught.value.error.code, caught.value.error.field) == (
        expected,
        "answers[0].scaleMin",
    )


@pytest.mark.parametrize("value", [0, 7, 7.0, -3])
def test_integer_accepts_whole_numbers(value: float) -> None:
    assert integer({"x": value}, "x") == int(value)


@pytest.mark.parametrize(
    ("value", "code"),
    [(float("inf"), codes.INVALID_VALUE), (float("nan"), codes.INVALID_VALUE),
     ("1", codes.WRONG_TYPE), (False, codes.WRONG_TYPE)],
)  # fmt: skip
def test_number_refuses_non_finite_and_non_numbers(value: object, code: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        number({"value": value}, "value", required=True)
    assert caught.value.error.code == code


def test_timestamp_needs_an_offset_and_is_stored_in_utc_milliseconds() -> None:
    tehran = timezone(timedelta(hours=3, minutes=30))
    sent = datetime(2026, 3, 21, 0, 15, 0, 123456, tzinfo=tehran)
    assert timestamp({"t": sent}, "t", required=True) == datetime(
        2026, 3, 20, 20, 45, 0, 123000, tzinfo=UTC
    )
    assert timestamp({"t": "2026-03-21T00:15:00+03:30"}, "t", required=True) == datetime(
        2026, 3, 20, 20, 45, tzinfo=UTC
    )
    for naive in ("2026-03-21T00:15:00", datetime(2026, 3, 21)):
        with pytest.raises(RecordInvalid) as caught:
            timestamp({"t": naive}, "t", required=True)
        assert caught.value.error.code == codes.MISSING_UTC_OFFSET
    with pytest.raises(RecordInvalid) as caught:
        timestamp({"t": "yesterday"}, "t", required=True)
    assert caught.value.error.code == codes.INVALID_TIMESTAMP


def test_string_limits_and_blank_required_values() -> None:
    assert string({"s": "$where"}, "s", 10, required=True) == "$where"
    with pytest.raises(RecordInvalid) as caught:
        string({"s": "x" * 11}, "s", 10, required=True)
    assert caught.value.error.code == codes.STRING_TOO_LONG
    with pytest.raises(RecordInvalid) as caught:
        string({"s": "   "}, "s", 10, required=True)
    assert caught.value.error.code == codes.REQUIRED
    assert string({}, "s", 10, required=False) is None
