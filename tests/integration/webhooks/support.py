"""Webhook test support: a real receiver (an HTTP server on 127.0.0.1 in a thread of its
own), a signature check written here from the documented scheme (never the service's), and
apps whose webhooks may reach 127.0.0.1 and retry within tens of milliseconds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from starlette.applications import Starlette

from service.http.app import create_app
from service.settings import Settings
from tests.conftest import make_settings

SECRET = "whsec_3f9a1c0d7e5b4a2968f1e0d3c2b1a090"


def fast(mongo_uri: str, **overrides: Any) -> Settings:
    """Deliveries to 127.0.0.1, looked for often, retried after tens of milliseconds."""
    values: dict[str, Any] = {
        "webhook_allow_private": True, "webhook_poll_interval_s": 0.05,
        "webhook_retry_base_s": 0.05, "webhook_retry_max_s": 0.2, "webhook_timeout_s": 5.0,
        "webhook_threshold_debounce_ms": 100,
    }  # fmt: skip
    values.update(overrides)
    return make_settings(mongo_uri, **values)


@asynccontextmanager
async def started(settings: Settings, drop: bool = True) -> AsyncIterator[Starlette]:
    """The app with its lifespan (its worker running); its database dropped unless told."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            if drop:
                await application.state.cx.mongo.client.drop_database(settings.mongo_db)


def recent(minutes: float) -> str:
    """A submission time ``minutes`` ago: inside every rolling window of a threshold."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]


class Receiver:
    """Answers each POST with the next of ``statuses`` (then 200). ``hold`` blocks answers
    until set; ``slow_first_s`` delays the first answer (past the sender's timeout)."""

    def __init__(self, statuses: list[int] | None = None, slow_first_s: float = 0.0) -> None:
        self.statuses = list(statuses or [])
        self.slow_first_s = slow_first_s
        self.received: list[Received] = []
        self.hold = threading.Event()
        self.hold.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.received.append(Received(self.path, headers, body))
                    first = len(receiver.received) == 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.hold.wait(60)
                if first and receiver.slow_first_s:
                    time.sleep(receiver.slow_first_s)
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/cx"

    async def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            await asyncio.sleep(0.02)
        return list(self.received)


@contextmanager
def receiving(statuses: list[int] | None = None, slow_first_s: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(statuses, slow_first_s)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.hold.set()
        receiver.server.shutdown()
        receiver.server.server_close()


def signature_is_valid(header: str, secret: str, body: bytes, tolerance_s: int = 300) -> bool:
    """Stripe's scheme, from docs/webhooks.md: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.partition("=")
        fields.setdefault(name, []).append(value)
    if len(fields.get("t", [])) != 1 or not fields.get("v1"):
        return False
    timestamp = fields["t"][0]
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
    mac.update(timestamp.encode("ascii") + b"." + body)
    return any(hmac.compare_digest(mac.hexdigest(), v) for v in fields["v1"])
