"""The in-memory moving window allows at most its limit in any 60 s, in units of cost."""

from __future__ import annotations

import pytest
from limits import RateLimitItemPerMinute

from service.http import local_rate_limit
from service.http.local_rate_limit import LocalMovingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_at_most_the_limit_in_any_sixty_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(local_rate_limit.time, "monotonic", clock)
    window, item = LocalMovingWindow(), RateLimitItemPerMinute(3)
    allowed = []
    for _ in range(12):  # one request every 10 s
        allowed.append(await window.hit(item, "k"))
        clock.now += 10
    # 0, 10, 20 allowed; 30, 40, 50 refused; 60 allowed once 0 has left; and so on
    assert allowed == [True, True, True, False, False, False] * 2
    assert await window.hit(item, "other")  # per key


async def test_costs_count_in_units_and_retry_after_names_the_oldest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(local_rate_limit.time, "monotonic", clock)
    window, item = LocalMovingWindow(), RateLimitItemPerMinute(100)
    assert await window.hit(item, "k", cost=60)
    clock.now += 20
    assert not await window.hit(item, "k", cost=41)  # 60 + 41 > 100
    assert await window.hit(item, "k", cost=40)
    stats = await window.get_window_stats(item, "k")
    assert stats.remaining == 0
    assert stats.reset_time - local_rate_limit.time.time() == pytest.approx(40, abs=1)
    clock.now += 40  # the first 60 units leave
    assert await window.hit(item, "k", cost=60)


async def test_requests_close_together_share_an_entry_and_leave_late_not_early(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    monkeypatch.setattr(local_rate_limit.time, "monotonic", clock)
    window, item = LocalMovingWindow(), RateLimitItemPerMinute(2)
    assert await window.hit(item, "k")
    clock.now += local_rate_limit.MERGE_S / 2
    assert await window.hit(item, "k")
    clock.now += 60 - local_rate_limit.MERGE_S / 4  # 60 s after the first, not the second
    assert not await window.hit(item, "k")
    clock.now += local_rate_limit.MERGE_S
    assert await window.hit(item, "k")
