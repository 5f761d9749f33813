"""A subscription's answers (service/live/answers.py), the hub's limits and version ticks
(service/live/hub.py) and the WebSocket edge's send deadline (service/http/websocket.py),
without a database: versions are advanced by hand."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from service.http.websocket import credentials_of, websocket_edge
from service.live import answers
from service.live.answers import Answer, live_answers
from service.live.hub import LiveHub, TenantVersion, TooManySubscriptions

DEBOUNCE_S = 0.05


class Source:
    """The tenant's data: a version and the answer it gives; counts its computations."""

    def __init__(self, tenant: TenantVersion) -> None:
        self.tenant = tenant
        self.version = 1
        self.value = "a"
        self.computed = 0
        self.failing: Exception | None = None

    def write(self, value: str | None = None) -> None:
        self.version += 1
        if value is not None:
            self.value = value
        self.tenant.advance(self.version)

    async def compute(self) -> Answer[str]:
        self.computed += 1
        if self.failing is not None:
            return Answer(None, self.version, ("error", str(self.failing)), self.failing)
        return Answer(self.value, self.version, self.value)


async def take(stream: Any, timeout_s: float = 2.0) -> Answer[str]:
    answer: Answer[str] = await asyncio.wait_for(anext(stream), timeout_s)
    return answer


async def nothing(stream: Any, within_s: float) -> asyncio.Task[Any]:
    """Assert no answer comes within ``within_s``; the pending pull is handed back."""
    pending = asyncio.ensure_future(anext(stream))
    done, _ = await asyncio.wait({pending}, timeout=within_s)
    assert not done, pending.result()
    return pending


async def stop(stream: Any, pending: asyncio.Future[Any] | None = None) -> None:
    """End the stream as a cancelled subscription ends (a pending pull is cancelled)."""
    if pending is not None:
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
    await stream.aclose()


async def test_first_answer_then_only_changed_ones() -> None:
    tenant = TenantVersion()
    source = Source(tenant)
    stream = live_answers(tenant, source.compute, DEBOUNCE_S)
    first = await take(stream)
    assert (first.payload, first.version) == ("a", 1)
    source.write()  # the version moves, the answer does not
    pending = await nothing(stream, 10 * DEBOUNCE_S)
    assert source.computed == 2
    source.write("b")
    changed = await asyncio.wait_for(pending, 2.0)
    assert (changed.payload, changed.version) == ("b", 3)
    await stop(stream)


async def test_a_burst_is_one_computation_and_one_answer() -> None:
    tenant = TenantVersion()
    source = Source(tenant)
    stream = live_answers(tenant, source.compute, DEBOUNCE_S)
    await take(stream)
    pending = asyncio.ensure_future(anext(stream))
    for value in "bcdefg":  # each write well inside the debounce interval of the one before
        source.write(value)
        await asyncio.sleep(DEBOUNCE_S / 5)
    answer = await asyncio.wait_for(pending, 2.0)
    assert (answer.payload, answer.version) == ("g", 7)
    assert source.computed == 2
    await stop(stream, await nothing(stream, 10 * DEBOUNCE_S))


async def test_writes_that_never_pause_still_answer() -> None:
    tenant = TenantVersion()
    source = Source(tenant)
    stream = live_answers(tenant, source.compute, DEBOUNCE_S)
    await take(stream)
    pending = asyncio.ensure_future(anext(stream))
    loop = asyncio.get_running_loop()
    began = loop.time()
    while not pending.done() and loop.time() - began < 3.0:
        source.write(f"{loop.time()}")  # each write changes the answer
        await asyncio.sleep(DEBOUNCE_S / 5)
    assert pending.done(), "no answer while the writes went on"
    # It waited for a pause first, as long as the cap allows (a lower bound, never flaky).
    assert loop.time() - began >= answers.MAX_DEBOUNCES * DEBOUNCE_S
    assert source.computed == 2
    await stop(stream)


async def test_a_slow_reader_gets_the_latest_answer_only() -> None:
    """Nothing is computed or queued while the answer before has not been taken."""
    tenant = TenantVersion()
    source = Source(tenant)
    stream = live_answers(tenant, source.compute, DEBOUNCE_S)
    await take(stream)
    for i in range(50):
        source.write(f"v{i}")
    await asyncio.sleep(10 * DEBOUNCE_S)
    assert source.computed == 1
    answer = await take(stream)
    assert (answer.payload, answer.version) == ("v49", 51)
    assert source.computed == 2
    await stop(stream, await nothing(stream, 10 * DEBOUNCE_S))


async def test_a_failed_answer_is_sent_once_and_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(answers, "RETRY_AFTER_ERROR_S", 0.1)
    tenant = TenantVersion()
    source = Source(tenant)
    source.failing = ConnectionError("database away")
    stream = live_answers(tenant, source.compute, DEBOUNCE_S)
    failed = await take(stream)
    assert failed.payload is None and failed.error is source.failing
    pending = await nothing(stream, 0.5)  # retried, same failure: not sent again
    assert source.computed >= 3
    source.failing = None
    recovered = await asyncio.wait_for(pending, 2.0)
    assert recovered.payload == "a"
    await stop(stream)


async def test_subscriptions_are_counted_per_credential_and_released() -> None:
    hub = LiveHub(per_key=2)
    async with hub.subscription("k1", "t1"), hub.subscription("k1", "t2") as t2:
        assert hub.active == 2
        with pytest.raises(TooManySubscriptions) as refused:
            async with hub.subscription("k1", "t1"):
                pass
        assert refused.value.extensions == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": 2}
        async with hub.subscription("k2", "t2") as same:
            assert same is t2 and t2.subscribers == 2 and hub.active == 3
        assert hub.held == {"k1": 2}
    assert hub.active == 0 and hub.held == {} and hub.tenants == {}
    await hub.close()


class Feed:
    """Stands in for the VersionFeed: versions by tenant, one tenant failing."""

    staleness_s = 0.0

    def __init__(self) -> None:
        self.versions = {"t1": 4, "t2": 9}

    async def get(self, tenant: str) -> int:
        if tenant not in self.versions:
            raise ConnectionError("no answer")
        return self.versions[tenant]


async def test_the_hub_advances_each_subscribed_tenant_from_the_feed() -> None:
    hub = LiveHub(per_key=5)
    feed = Feed()
    hub.start(feed)  # type: ignore[arg-type]
    assert hub.tick_s == 0.05
    async with (hub.subscription("k", "t1") as t1, hub.subscription("k", "t2") as t2,
                hub.subscription("k", "t3") as t3):  # fmt: skip
        assert await asyncio.wait_for(t1.beyond(3), 2.0) == 4
        assert await asyncio.wait_for(t2.beyond(8), 2.0) == 9
        assert t3.version == -1  # its reads fail: nothing advances, the others go on
        feed.versions["t1"] = 5
        assert await asyncio.wait_for(t1.beyond(4), 2.0) == 5
    await hub.close()


def test_credentials_are_read_like_headers() -> None:
    assert credentials_of({"Authorization": "Bearer k", "other": 1}) == {
        "authorization": "Bearer k"}  # fmt: skip
    assert credentials_of({"headers": {"X-API-KEY": "k"}}) == {"x-api-key": "k"}
    assert credentials_of({"authorization": 5, "token": "k"}) == {}


async def test_a_client_that_takes_no_message_is_dropped() -> None:
    """The edge gives each message CX_SEND_TIMEOUT_S; past it the app sees a disconnect."""
    settings = SimpleNamespace(send_timeout_s=0.1)
    scope: dict[str, Any] = {"type": "websocket", "path": "/graphql",
                             "app": SimpleNamespace(state=SimpleNamespace(
                                 cx=SimpleNamespace(settings=settings)))}  # fmt: skip
    never = asyncio.Event()
    seen: list[Message] = []

    async def stuck_send(message: Message) -> None:
        await never.wait()  # the client's window is full

    async def idle_receive() -> Message:
        await never.wait()
        raise AssertionError("unreachable")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        with pytest.raises(WebSocketDisconnect):
            await send({"type": "websocket.send", "text": "{}"})
        seen.append(await receive())
        with pytest.raises(WebSocketDisconnect):  # later messages are not even tried
            await send({"type": "websocket.close", "code": 1000})

    await asyncio.wait_for(websocket_edge(app, scope, idle_receive, stuck_send), 2.0)
    assert seen == [{"type": "websocket.disconnect", "code": 1011}]
