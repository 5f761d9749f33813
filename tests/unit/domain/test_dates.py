"""Impossible calendar dates are told apart from text that is not a date."""

from __future__ import annotations

import pytest

from service.domain.dates import impossible_date
from service.domain.ingest import codes
from service.domain.ingest.checks import RecordInvalid, timestamp


@pytest.mark.parametrize(
    "text,why",
    [
        ("2026-02-30T10:00:00Z", "2026-02-30 is an impossible date: February 2026 has 28 days"),
        ("2028-02-30", "2028-02-30 is an impossible date: February 2028 has 29 days"),
        ("2026-04-31 09:00+03:30", "2026-04-31 is an impossible date: April 2026 has 30 days"),
        ("2026-13-01T00:00:00Z", "2026-13-01 is an impossible date: there is no month 13"),
        ("2026-00-10T00:00:00Z", "2026-00-10 is an impossible date: there is no month 00"),
        ("2026-01-00T00:00:00Z", "2026-01-00 is an impossible date: January 2026 has 31 days"),
        ("0000-01-01T00:00:00Z", "0000-01-01 is an impossible date: years start at 0001"),
    ],
)
def test_an_impossible_date_says_why(text: str, why: str) -> None:
    assert impossible_date(text) == why


@pytest.mark.parametrize(
    "text", ["2028-02-29T00:00:00Z", "yesterday", "2026-02-3", "20260230T10:00:00Z", ""]
)
def test_a_possible_date_or_no_date_at_all_is_not_impossible(text: str) -> None:
    assert impossible_date(text) is None


def test_a_record_with_an_impossible_date_is_told_so() -> None:
    with pytest.raises(RecordInvalid) as caught:
        timestamp({"occurredAt": "2026-02-30T10:00:00Z"}, "occurredAt", required=True)

    assert caught.value.error.code == codes.INVALID_TIMESTAMP
    assert caught.value.error.message == (
        "occurredAt: 2026-02-30 is an impossible date: February 2026 has 28 days"
    )


def test_a_record_with_no_date_is_told_it_is_not_a_timestamp() -> None:
    with pytest.raises(RecordInvalid) as caught:
        timestamp({"occurredAt": "yesterday"}, "occurredAt", required=True)

    assert caught.value.error.message == "occurredAt is not an ISO-8601 timestamp"
