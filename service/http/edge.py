"""The HTTP edge: every request gets its id, a bounded body and — outside the probes — a
principal (credential, tenant, scopes) and a rate-limit verdict. They are built once here
into one :class:`~service.domain.request.RequestScope` (``scope["state"]["request"]``),
which GraphQL, the response cache and the NDJSON route read; none works them out again.

A repeated query whose answer is cached is answered before this layer, by the hit path
(service/http/hit_path.py), with these same functions: a check added here must be made
there too, or make the hit path step aside (docs/adr/0025)."""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth.authenticator import Unauthenticated
from service.domain.principal import Scope as Permission
from service.domain.request import RequestScope
from service.http import access_log as access_lines
from service.http.asgi import answer, error_body, media_type, read_body
from service.http.graphiql import ASSETS_PATH
from service.http.rate_limits import Verdict
from service.http.slow_clients import BodyTimeout, SendTimeout, receive_within, send_within
from service.http.websocket import websocket_edge

access_log = logging.getLogger("cxgraph.access")
OPEN_PATHS = frozenset({"/livez", "/readyz"})
JSON_TYPES = frozenset({"application/json"})  # answers may be asked for as graphql-response+json
LIMITED_BODY_PATHS = frozenset({"/graphql"})  # NDJSON streams, with limits of its own
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = logging.getLogger("cxgraph.edge")


_ID_PREFIX = secrets.token_hex(8)  # this process's; then a count: unique, and no syscall each
_ids = itertools.count()


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ids):016x}"


class Edge:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # authenticated at connection_init (websocket.py)
            await websocket_edge(self.app, scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.cx.settings
        receive = receive_within(receive, settings.body_timeout_s)
        send = send_within(send, settings.send_timeout_s)
        try:
            await self._serve(scope, receive, send)
        except BaseException as exc:
            timeout = send_timeout_of(exc)
            if timeout is None:
                raise
            dropping(scope, timeout)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = headers_of(scope)
        request_id = request_id_of(headers)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status: list[int] = []
        began = time.perf_counter()
        try:
            await self._handle(scope, receive, with_request_id(send, request_id, status),
                               headers, state)  # fmt: skip
        finally:
            if scope["path"] not in OPEN_PATHS:
                log_access(scope, state, status, time.perf_counter() - began)

    async def _handle(self, scope: Scope, receive: Receive, send: Send,
                      headers: dict[str, str], state: dict[str, Any]) -> None:  # fmt: skip
        path = scope["path"]
        if path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        cx = scope["app"].state.cx
        settings = cx.settings
        if path == "/metrics" and settings.metrics_public:
            await self.app(scope, receive, send)
            return
        ide_page = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
        if path == "/graphql" and ide_page and settings.graphiql:  # GraphiQL sends keys itself
            await self.app(scope, receive, send)
            return
        if settings.graphiql and path.startswith(ASSETS_PATH + "/"):  # its public scripts
            await self.app(scope, receive, send)
            return
        # No form posts: a browser cannot forge a JSON one.
        if (
            path == "/graphql"
            and scope["method"] == "POST"
            and media_type(headers) not in JSON_TYPES
        ):
            message = "send GraphQL requests as application/json"
            await answer(send, 415, error_body(message, "UNSUPPORTED_MEDIA_TYPE"))
            return
        if path in LIMITED_BODY_PATHS:
            try:
                buffered, receive = await read_body(receive, settings.max_body_bytes)
            except BodyTimeout as slow:
                await refuse_slow_body(send, slow)
                return
            if buffered is None:
                limit = settings.max_body_bytes
                await answer(send, 413, error_body(
                    f"the request body is larger than {limit} bytes (CX_MAX_BODY_BYTES)",
                    "PAYLOAD_TOO_LARGE", limit=limit))  # fmt: skip
                return
            if buffered.lstrip()[:1] == b"[":
                await answer(send, 400, error_body(
                    "batches of operations are not accepted: send one operation per request",
                    "BATCH_NOT_ALLOWED"))  # fmt: skip
                return
        try:
            principal = cx.authenticator.remembered(headers)  # no database: no watch needed
            if principal is None:
                async with cx.watch.guard():  # an API key is read from the database
                    principal = await cx.authenticator.authenticate(headers)
        except Unauthenticated as exc:
            await answer(send, 401, error_body(str(exc), "UNAUTHENTICATED"),
                          [(b"www-authenticate", b'Bearer realm="cxgraph"')])  # fmt: skip
            return
        if path == "/metrics" and not principal.allows(Permission.ADMIN):
            await answer(send, 403, error_body("/metrics needs the scope admin", "FORBIDDEN",
                                                scope="admin"))  # fmt: skip
            return
        verdict = await cx.rate_limiter.hit(principal.credential_id)
        if not verdict.allowed:
            await refuse_rate(send, verdict)
            return
        # The request's answer is due within the budget a query may take (CX_MONGO_QUERY_TIMEOUT_S).
        deadline = time.monotonic() + settings.mongo_query_timeout_s
        state["request"] = RequestScope(state["request_id"], principal, deadline)
        await self.app(scope, receive, send)


def headers_of(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def request_id_of(headers: dict[str, str]) -> str:
    """The caller's X-Request-Id when it is a sane one, else a new id."""
    given = headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else _new_request_id()


async def refuse_slow_body(send: Send, slow: BodyTimeout) -> None:
    await answer(send, 408, error_body(f"{slow} (CX_BODY_TIMEOUT_S)", "REQUEST_TIMEOUT"))


async def refuse_rate(send: Send, verdict: Verdict) -> None:
    await answer(send, 429, error_body(
        f"too many requests for this credential; retry in {verdict.retry_after_s} s",
        "RATE_LIMITED", retryAfterSeconds=verdict.retry_after_s),
        [(b"retry-after", str(verdict.retry_after_s).encode())])  # fmt: skip


def dropping(scope: Scope, timeout: SendTimeout) -> None:
    # uvicorn closes the connection of an answer left incomplete.
    log.warning("%s %s: %s; dropping the connection", scope["method"], scope["path"], timeout)


def send_timeout_of(exc: BaseException) -> SendTimeout | None:
    """The SendTimeout behind ``exc``, also from inside a task group's exception group."""
    if isinstance(exc, SendTimeout):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = send_timeout_of(inner)
            if found is not None:
                return found
    return None


def with_request_id(send: Send, request_id: str, status: list[int]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
            message["headers"] = [*message.get("headers", []),
                                  (b"x-request-id", request_id.encode())]  # fmt: skip
        await send(message)

    return sending


def log_access(scope: Scope, state: dict[str, Any], status: list[int], seconds: float) -> None:
    """One JSON line per request: who, for which tenant, what, at what cost, how it ended.
    Never the key or the token: the credential's id only. Written as
    ``json.dumps`` of the same fields would, without its per-call set-up: every request
    pays for this line (tests/unit/http/test_access_log.py compares them)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    request = state.get("request")
    principal = request.principal if isinstance(request, RequestScope) else None
    credential, tenant = (principal.credential_id, principal.tenant) if principal else (None, None)
    text = (
        f'{{"requestId":{_text(state.get("request_id"))},"method":{_text(scope["method"])},'
        f'"path":{_text(scope["path"])},"status":{_number(status[0] if status else None)},'
        f'"credential":{_text(credential)},"tenant":{_text(tenant)},'
        f'"operation":{_text(state.get("operation"))},"cost":{_number(state.get("cost"))},'
        f'"outcome":{_text(state.get("outcome"))},"ms":{_number(round(seconds * 1000, 1))}}}'
    )
    access_lines.emit(access_log, text)


def _text(value: str | None) -> str:
    return "null" if value is None else _quoted(value)


def _number(value: float | None) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return float.__repr__(value)
    return json.dumps(value)


_quoted: Any = json.encoder.encode_basestring_ascii
