"""The HTTP client deliveries go out on: every connection checks the addresses it dials.

Checking a URL when it is defined is not enough: a host can resolve to a public address then
and to 127.0.0.1 or the metadata endpoint later (DNS rebinding). So the client's network
backend resolves the host itself, refuses the connection when any address is not allowed
(service/domain/webhooks/urls.py), and dials the checked address — TLS still verifies the host
name. No proxies from the environment (they would dial for us), no redirects followed.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import typing
from collections.abc import AsyncIterator, Iterable

import httpcore
import httpx

from service.domain.errors import BadUserInput
from service.domain.webhooks.urls import IPAddress, check_addresses, literal_address

USER_AGENT = "cxgraph-webhooks/1"
RESOLVE_TIMEOUT_S = 5.0


class AddressRefused(httpcore.ConnectError):
    """The host resolved to an address deliveries may not connect to."""


async def resolve(host: str, port: int, timeout_s: float = RESOLVE_TIMEOUT_S) -> list[IPAddress]:
    """Every address of ``host`` (in resolver order, once each); BAD_USER_INPUT if none."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout_s
        )
    except (OSError, TimeoutError, UnicodeError):
        raise BadUserInput(f"url: the host {host!r} does not resolve", reason="UNRESOLVABLE_HOST",
                           field="url") from None  # fmt: skip
    found: list[IPAddress] = []
    for info in infos:
        address = literal_address(str(info[4][0]).split("%", 1)[0])  # drop an IPv6 zone
        if address is not None and address not in found:
            found.append(address)
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await resolve(host, port, timeout or RESOLVE_TIMEOUT_S)
            check_addresses(host, addresses, self.allow_private)
        except BadUserInput as refused:
            raise AddressRefused(refused.message.removeprefix("url: ")) from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("webhooks never connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def _mapped(exc: Exception, request: httpx.Request) -> Exception:
    if isinstance(exc, httpcore.TimeoutException):
        return httpx.TimeoutException(str(exc) or type(exc).__name__, request=request)
    if isinstance(exc, httpcore.ConnectError):
        return httpx.ConnectError(str(exc) or type(exc).__name__, request=request)
    return httpx.TransportError(str(exc) or type(exc).__name__, request=request)


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes], request: httpx.Request) -> None:
        self.stream = stream
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self.stream:
                yield part
        except httpcore.NetworkError as exc:
            raise _mapped(exc, self.request) from exc

    async def aclose(self) -> None:
        close = getattr(self.stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx on an httpcore pool whose network backend is :class:`GuardedBackend`."""

    def __init__(self, allow_private: bool, max_connections: int = 20) -> None:
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(allow_private),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, typing.AsyncIterable)
        url = request.url
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )  # fmt: skip
        try:
            response = await self.pool.handle_async_request(core)
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise _mapped(exc, request) from exc
        assert isinstance(response.stream, typing.AsyncIterable)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(response.stream, request),
                              extensions=response.extensions)  # fmt: skip

    async def aclose(self) -> None:
        await self.pool.aclose()


def delivery_client(
    allow_private: bool, timeout_s: float, max_connections: int
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private, max_connections),
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )
