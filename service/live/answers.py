"""The life of one subscription: its first answer at once, then a new answer only when a
write changed it.

After the tenant's data version moves, the loop waits until the writes pause for the debounce
interval (``CX_SUBSCRIPTION_DEBOUNCE_MS``; at most ``MAX_DEBOUNCES`` of them, so writes that
never pause still send an update now and then), computes the answer once at the newest version
and sends it only if it differs from the last one sent. What is compared is the answer itself
(``Answer.same``), not the version: a write to another segment, window or metric changes the
version and nothing a subscriber sees.

The loop is pulled by its consumer: it computes the next answer only after the previous one
was taken. A subscriber that reads slowly therefore holds one answer, never a queue, and when
it reads again it gets the newest answer, computed after it caught up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from service.live.hub import TenantVersion

log = logging.getLogger("cxgraph.live")

T = TypeVar("T")
MAX_DEBOUNCES = 5  # a burst that never pauses still sends an update after 5 intervals
RETRY_AFTER_ERROR_S = 5.0  # an answer that failed (database away) is tried again after this


@dataclass(frozen=True)
class Answer(Generic[T]):
    """One computed answer: what is sent (``payload``, or ``error``), the data version it
    reflects, and what makes it the same as another (``fingerprint``: the values, never when
    they were computed or at which version)."""

    payload: T | None
    version: int
    fingerprint: object
    error: Exception | None = None

    def same(self, other: Answer[T] | None) -> bool:
        return other is not None and self.fingerprint == other.fingerprint


async def settle(tenant: TenantVersion, debounce_s: float) -> None:
    """Return once the version has not moved for ``debounce_s``, or MAX_DEBOUNCES times that
    after the call if it keeps moving."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_DEBOUNCES * debounce_s
    while (left := deadline - loop.time()) > 0:
        if not await tenant.next_change(min(debounce_s, left)):
            return


async def live_answers(
    tenant: TenantVersion,
    compute: Callable[[], Awaitable[Answer[T]]],
    debounce_s: float,
    sent: Callable[[], None] = lambda: None,
) -> AsyncIterator[Answer[T]]:
    """The first answer, then each changed one, until the consumer stops."""
    last: Answer[T] | None = None
    while True:
        seen = tenant.version  # before computing: a write meanwhile is not missed
        answer = await compute()
        if last is None or not answer.same(last):
            last = answer
            sent()
            yield answer
        if answer.error is None:
            await tenant.beyond(max(seen, answer.version))
        else:
            await _change_or_retry(tenant, seen)
        await settle(tenant, debounce_s)


async def _change_or_retry(tenant: TenantVersion, seen: int) -> None:
    if tenant.version > seen:
        return
    await tenant.next_change(RETRY_AFTER_ERROR_S)
