"""Pages read in time slices see every row once, in order, whatever the gaps between rows.

Slices here start at one second and stop growing past an hour, so rows seconds, days and
decades apart, and rows sharing an instant, all cross slice edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.store import slices
from service.store.pagination import paginate

BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
TIMES = [
    datetime(1990, 1, 1, tzinfo=UTC),  # decades before the rest
    BASE, BASE, BASE,  # three at one instant
    BASE + timedelta(milliseconds=1),
    BASE + timedelta(seconds=1),
    BASE + timedelta(seconds=2, milliseconds=500),
    BASE + timedelta(minutes=3),
    BASE + timedelta(hours=5), BASE + timedelta(hours=5),
    BASE + timedelta(days=40),
    datetime(2100, 1, 1, tzinfo=UTC),  # in the future
]  # fmt: skip
WINDOWS: dict[str, tuple[datetime | None, datetime | None]] = {
    "all": (None, None),
    "from": (BASE, None),
    "to": (None, BASE + timedelta(hours=5)),
    "both": (BASE + timedelta(milliseconds=1), BASE + timedelta(days=41)),
}


@pytest.fixture
async def rows(db: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setattr(slices, "FIRST_SLICE", timedelta(seconds=1))
    monkeypatch.setattr(slices, "WIDEST_SLICE", timedelta(hours=1))
    docs = [{"_id": f"tp_{i:02d}", "tenant": "t1", "source": "s", "externalId": str(i),
             "occurredAt": t} for i, t in enumerate(TIMES)]  # fmt: skip
    docs.append({"_id": "tp_other", "tenant": "t2", "source": "s", "externalId": "x",
                 "occurredAt": BASE})  # fmt: skip
    await db["touchpoints"].insert_many(docs)
    return docs


async def walk(db: Any, indexed: dict[str, Any], size: int, descending: bool) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = await paginate(db["touchpoints"], indexed, "occurredAt", size, after,
                              lambda doc: str(doc["_id"]), descending=descending,
                              in_slices=True)  # fmt: skip
        seen += page.rows
        if not page.has_next:
            return seen
        assert len(page.rows) == size
        after = page.cursors[-1]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 13])
@pytest.mark.parametrize("descending", [False, True], ids=["oldest", "newest"])
@pytest.mark.parametrize("window", WINDOWS)
async def test_a_walk_in_slices_sees_each_row_once_in_order(
    db: Any, rows: list[dict[str, Any]], window: str, descending: bool, size: int
) -> None:
    start, end = WINDOWS[window]
    indexed: dict[str, Any] = {"tenant": "t1"}
    bounds = {k: v for k, v in (("$gte", start), ("$lt", end)) if v is not None}
    if bounds:
        indexed["occurredAt"] = bounds
    expected = sorted(
        (r for r in rows if r["tenant"] == "t1" and (start is None or r["occurredAt"] >= start)
         and (end is None or r["occurredAt"] < end)),
        key=lambda r: (r["occurredAt"], r["_id"]), reverse=descending,
    )  # fmt: skip

    assert await walk(db, indexed, size, descending) == [r["_id"] for r in expected]
