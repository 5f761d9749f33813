"""The delivery worker every replica runs: claim a due delivery, send it, record the outcome.

Deliveries wait in MongoDB (service/store/webhook_deliveries.py), so a restart loses none:
what was due is claimed by whichever replica looks next. A claim holds a delivery for its
lease (twice the attempt timeout and a margin); a replica that dies while sending lets it
lapse and the delivery is sent again — with the same body and ``Idempotency-Key`` — which
is what "at least once" means. Each attempt is signed afresh (service/domain/webhooks/signing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.domain.webhooks.backoff import parse_retry_after, retry_delay
from service.domain.webhooks.signing import SIGNATURE_HEADER, signature_header
from service.settings import Settings
from service.store import webhook_deliveries as deliveries
from service.store import webhooks as stored
from service.store.client import Doc, Mongo
from service.webhooks.looping import FailureStreak, cancelled, log_failure
from service.webhooks.transport import delivery_client

log = logging.getLogger("cxgraph.webhooks")

LEASE_MARGIN_S = 10.0
SHUTDOWN_GRACE_S = 5.0  # attempts in flight at shutdown get this long to finish
MAX_ERROR_LENGTH = 500
OUTCOMES = ("delivered", "retry", "failed", "cancelled")


class DeliveryWorker:
    def __init__(
        self,
        mongo: Mongo,
        settings: Settings,
        client: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.mongo = mongo
        self.settings = settings
        self.client = client or delivery_client(
            settings.webhook_allow_private, settings.webhook_timeout_s,
            max_connections=settings.webhook_concurrency * 2,
        )  # fmt: skip
        self.rng = rng or random.Random()
        self.lease = timedelta(seconds=2 * settings.webhook_timeout_s + LEASE_MARGIN_S)
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.attempts = 0  # sent by this process (tests read it)
        self.outcomes = dict.fromkeys(OUTCOMES, 0)  # /metrics: cx_webhook_attempts_total
        self.claims = FailureStreak("claiming webhook deliveries")

    def wake(self) -> None:
        """A delivery was recorded on this replica: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """No more claims: :meth:`run` returns after the one under way (never cancelled in the
        middle of a database call, which can leak the driver's socket)."""
        self.stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Until stopped (or cancelled): up to CX_WEBHOOK_CONCURRENCY attempts at once;
        attempts in flight finish or are cancelled by :meth:`close`."""
        slots = asyncio.Semaphore(self.settings.webhook_concurrency)
        while not self.stopping:
            await slots.acquire()
            if self.stopping:
                return
            try:
                claimed = await deliveries.claim(self.mongo, datetime.now(UTC), self.lease)
                self.claims.ok()
            except asyncio.CancelledError:
                raise
            except Exception:
                if cancelled():
                    raise asyncio.CancelledError() from None
                self.claims.failed()
                claimed = None
            if cancelled():  # the driver may finish an operation instead of raising
                if claimed is not None:  # sent now, or again once its lease lapses
                    self._start(claimed, slots)
                raise asyncio.CancelledError()
            if claimed is None:
                slots.release()
                await self._idle()
                continue
            self._start(claimed, slots)

    def _start(self, delivery: Doc, slots: asyncio.Semaphore) -> None:
        task = asyncio.create_task(self._attempt_then_release(delivery, slots))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_interval_s)
        self._wake.clear()

    async def _attempt_then_release(self, delivery: Doc, slots: asyncio.Semaphore) -> None:
        try:
            await self.attempt(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:  # its lease lapses and another attempt follows
            log_failure(f"webhook delivery {delivery['_id']} failed before its outcome was kept")
        finally:
            slots.release()

    async def attempt(self, delivery: Doc) -> None:
        """One attempt of a claimed delivery, and its outcome recorded."""
        now = datetime.now(UTC)
        hook = await stored.get(self.mongo, delivery["webhookId"])
        why_not = _cancel_reason(hook, delivery["event"])
        if why_not is not None or hook is None:
            await deliveries.finish_attempt(
                self.mongo, delivery["_id"], delivery["leaseToken"],
                {"status": deliveries.CANCELLED, "lastError": why_not, "finishedAt": now},
                {"at": now, "statusCode": None, "error": why_not, "durationMs": 0},
            )  # fmt: skip
            self.outcomes["cancelled"] += 1
            return
        status, error, retry_after, took_ms = await self._send(hook, delivery)
        self.attempts += 1
        fields: dict[str, Any] = {"lastAttemptAt": now, "lastStatusCode": status,
                                  "lastError": error}  # fmt: skip
        if error is None:
            fields.update(status=deliveries.DELIVERED, finishedAt=datetime.now(UTC))
            self.outcomes["delivered"] += 1
        elif delivery["attempts"] >= self.settings.webhook_max_attempts:
            fields.update(status=deliveries.FAILED, finishedAt=datetime.now(UTC))
            self.outcomes["failed"] += 1
        else:
            self.outcomes["retry"] += 1
            settings = self.settings
            delay = retry_delay(delivery["attempts"], settings.webhook_retry_base_s,
                                settings.webhook_retry_max_s, self.rng, retry_after)  # fmt: skip
            fields["nextAttemptAt"] = datetime.now(UTC) + timedelta(seconds=delay)
        attempt = {"at": now, "statusCode": status, "error": error, "durationMs": took_ms}
        recorded = await deliveries.finish_attempt(
            self.mongo, delivery["_id"], delivery["leaseToken"], fields, attempt
        )
        if not recorded:
            log.warning("webhook delivery %s: lease lost before its outcome was recorded",
                        delivery["_id"])  # fmt: skip

    async def _send(
        self, hook: Doc, delivery: Doc
    ) -> tuple[int | None, str | None, float | None, int]:
        """POST the delivery's body: (status code, error or None, Retry-After, duration)."""
        body = delivery["body"].encode()
        headers = {
            "content-type": "application/json",
            SIGNATURE_HEADER: signature_header(hook["secret"], int(time.time()), body),
            "Idempotency-Key": delivery["eventId"],
            "Cxgraph-Event": delivery["event"],
            "Cxgraph-Delivery": delivery["_id"],
            "Cxgraph-Attempt": str(delivery["attempts"]),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_s):
                async with self.client.stream("POST", hook["url"], content=body,
                                              headers=headers) as response:  # fmt: skip
                    status = response.status_code
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TimeoutError:
            error = f"timed out after {self.settings.webhook_timeout_s:g} s (CX_WEBHOOK_TIMEOUT_S)"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
        took_ms = round((time.monotonic() - started) * 1000)
        return status, error, retry_after, took_ms

    async def purge(self) -> int:
        """Forget finished deliveries older than CX_WEBHOOK_RETENTION_DAYS."""
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.webhook_retention_days)
        return await deliveries.purge(self.mongo, cutoff)

    async def close(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        """At shutdown, once :meth:`run` has returned: attempts in flight get ``grace_s`` to
        finish and record their outcome (fewer duplicates on a rolling update); the rest are
        cancelled, and sent again by another replica once their lease lapses."""
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=grace_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=grace_s)
        await self.client.aclose()


def _cancel_reason(hook: Doc | None, event: str) -> str | None:
    if hook is None:
        return "the webhook was deleted"
    if not hook.get("enabled"):
        return "the webhook is disabled"
    if event not in (hook.get("events") or []):
        return f"the webhook no longer subscribes to {event}"
    return None
