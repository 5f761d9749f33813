"""GraphQL over WebSocket (the graphql-transport-ws protocol): the connection's context
(resolvers/live_context.py), its authentication at ``connection_init``, and the edge every
socket passes.

- The credential travels in the ``connection_init`` payload, as HTTP headers would carry it:
  ``{"Authorization": "Bearer <API key or token>"}`` or ``{"X-API-Key": "<key>"}`` (names in
  any case, also nested under ``"headers"``). Browsers cannot set headers on a WebSocket, so
  the handshake's own headers are not read. The tenant and the scopes are the credential's.
- A bad credential closes the socket with 4403 (the protocol's Forbidden), a credential over
  its request rate with 4429, a database that does not answer with 1013 (try again later);
  a subscribe before a successful ``connection_init`` with 4401, no ``connection_init``
  within ``CX_SUBSCRIPTION_INIT_TIMEOUT_S`` with 4408 (both by Strawberry).
- Only subscriptions run over the socket; queries and mutations go over HTTP, where the body
  limit, the request rate limit and the response cache apply.
- Errors leave with an ``extensions.code`` and internal ones masked, as over HTTP.
- A client that takes nothing of a message for ``CX_SEND_TIMEOUT_S`` is disconnected: its
  subscriptions stop and nothing more is computed for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Mapping
from typing import Any, NoReturn

from graphql import GraphQLError, GraphQLSyntaxError, OperationDefinitionNode, OperationType, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from resolvers.context import RequestContext
from resolvers.errors import from_domain, timed_out, with_code
from resolvers.live_context import LiveContext
from service.auth.authenticator import Unauthenticated
from service.domain.errors import CxError
from service.domain.principal import CredentialKind, Principal
from service.domain.request import RequestScope
from service.store.client import PING_TIMEOUT_S, UNAVAILABLE_ERRORS

log = logging.getLogger("cxgraph.live")
access_log = logging.getLogger("cxgraph.access")

FORBIDDEN = 4403
TOO_MANY_REQUESTS = 4429
TRY_AGAIN_LATER = 1013
CREDENTIAL_NAMES = ("authorization", "x-api-key")
MAX_REASON_BYTES = 123  # a close frame's reason
MAX_TOKENS = 5000  # as resolvers/schema.py limits every document


def live_context(state: Any, websocket: Any) -> LiveContext:
    request_id = websocket.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
    nobody = Principal(credential_id="unauthenticated", tenant="", scopes=frozenset(),
                       kind=CredentialKind.ANONYMOUS)  # fmt: skip
    return LiveContext(tenant="", principal=nobody, request_id=request_id,
                       deadline=time.monotonic(), settings=state.settings,
                       reader=state.reader, ingestor=state.ingestor, metrics=state.metrics,
                       rate_limiter=state.rate_limiter, request=websocket, response=None,
                       live=state.live)  # fmt: skip


def credentials_of(payload: Mapping[str, Any]) -> dict[str, str]:
    """The credential headers a connection_init payload carries (top level or ``headers``)."""
    found: dict[str, str] = {}
    nested = payload.get("headers")
    for source in (nested if isinstance(nested, Mapping) else {}, payload):
        for name, value in source.items():
            lowered = str(name).lower()
            if lowered in CREDENTIAL_NAMES and isinstance(value, str):
                found[lowered] = value
    return found


async def _refuse(context: LiveContext, code: int, reason: str) -> NoReturn:
    encoded = reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore")
    await context.request.close(code=code, reason=encoded)
    raise ConnectionRejectionError


async def on_connect(context: LiveContext) -> None:
    """``connection_init``: authenticate its payload, count it as one request of the
    credential; the context then acts for the credential's tenant with its scopes."""
    cx = context.request.app.state.cx
    params = context.connection_params if isinstance(context.connection_params, dict) else {}
    credentials = credentials_of(params)
    try:
        async with cx.watch.guard():  # an API key is read from the database
            principal = await cx.authenticator.authenticate(credentials)
    except Unauthenticated as exc:
        await _refuse(context, FORBIDDEN, f"Forbidden: {exc}")
    except UNAVAILABLE_ERRORS:
        await _refuse(context, TRY_AGAIN_LATER, "the database is unavailable; retry shortly")
    verdict = await cx.rate_limiter.hit(principal.credential_id)
    if not verdict.allowed:
        await _refuse(context, TOO_MANY_REQUESTS,
                      f"too many requests for this credential; retry in "
                      f"{verdict.retry_after_s} s")  # fmt: skip
    context.credentials = credentials
    context.principal = principal
    context.tenant = principal.tenant
    context.settings = (await cx.tenants.get(principal.tenant)).applied_to(cx.settings)
    context.deadline = time.monotonic() + cx.settings.mongo_query_timeout_s
    context.authenticated = True
    # The request scope of the socket, as the HTTP edge builds one per request: the access log.
    state = context.request.scope.setdefault("state", {})
    state["request"] = RequestScope(context.request_id, principal, context.deadline)


class LiveSocket(ASGIWebSocketAdapter):
    async def close(self, code: int, reason: str) -> None:
        """Closing twice is a no-op (a refusal closes with its own code first)."""
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


class _SubscriptionsOnly:
    """The schema as the socket handler sees it: subscriptions only, errors coded and masked."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    async def stream(self, query: str | None, **kwargs: Any) -> AsyncGenerator[Any, None]:
        kind = _operation_type(query, kwargs.get("operation_name"))
        if kind is not None and kind is not OperationType.SUBSCRIPTION:
            error = CxError(f"only subscriptions run over WebSocket; send a {kind.value} over "
                            "HTTP (POST /graphql)", reason="SUBSCRIPTIONS_ONLY")  # fmt: skip
            return _once(PreExecutionError(data=None, errors=[from_domain(error)]))
        results = await self.schema.stream(query, **kwargs)
        return _coded(results, kwargs.get("context_value"))


def _operation_type(query: str | None, operation_name: str | None) -> OperationType | None:
    """The operation's type; None when the document does not say (Strawberry answers that)."""
    try:
        document = parse(query or "", no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name and d.name.value == operation_name))
    ]
    return operations[0].operation if len(operations) == 1 else None


async def _once(result: Any) -> AsyncGenerator[Any, None]:
    yield result


async def _coded(results: AsyncGenerator[Any, None], context: Any) -> AsyncGenerator[Any, None]:
    try:
        async for result in results:
            if isinstance(result, ExecutionResult) and result.errors:
                result.errors = await _with_codes(result.errors, context)
            yield result
    finally:
        await results.aclose()


async def _with_codes(errors: list[GraphQLError], context: Any) -> list[GraphQLError]:
    cx = context.request.app.state.cx
    answers = False
    if any(timed_out(e) for e in errors):
        answers = await cx.mongo.ping(PING_TIMEOUT_S)
    out = []
    for error in errors:
        if isinstance(error, GraphQLSyntaxError) or isinstance(
            error.original_error, CannotGetOperationTypeError
        ):
            out.append(error)  # Strawberry closes the socket with 4400 on these, by type
        else:
            out.append(with_code(error, answers, context.request_id, cx.settings.production))
    return out


class LiveHandler(BaseGraphQLTransportWSHandler[RequestContext, None]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = _SubscriptionsOnly(self.schema)  # type: ignore[assignment]

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected | WebSocketDisconnect):
            return  # the client left (or was dropped) while a message was on its way
        await super().handle_task_exception(error)


async def websocket_edge(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """The edge for a WebSocket: its request id, a deadline on every message sent (a client
    past it is dropped) and one access-log line when the socket ends."""
    settings = scope["app"].state.cx.settings
    state = scope.setdefault("state", {})
    state["request_id"] = uuid.uuid4().hex
    dropped = asyncio.Event()
    closed: list[int] = []
    began = time.perf_counter()

    async def sending(message: Message) -> None:
        if dropped.is_set():
            raise WebSocketDisconnect(code=1011)
        try:
            async with asyncio.timeout(settings.send_timeout_s):
                await send(message)
        except TimeoutError:
            log.warning("a WebSocket client took no message for %gs (CX_SEND_TIMEOUT_S); "
                        "dropping it", settings.send_timeout_s)  # fmt: skip
            dropped.set()
            raise WebSocketDisconnect(code=1011) from None
        if message["type"] == "websocket.close":
            closed.append(int(message.get("code", 1000)))

    async def receiving() -> Message:
        if dropped.is_set():
            return {"type": "websocket.disconnect", "code": 1011}
        incoming = asyncio.ensure_future(receive())
        dropping = asyncio.ensure_future(dropped.wait())
        try:
            await asyncio.wait({incoming, dropping}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            incoming.cancel()
            raise
        finally:
            dropping.cancel()
        if incoming.done():
            message: Message = incoming.result()
            if message["type"] == "websocket.disconnect":
                closed.append(int(message.get("code", 1005)))
            return message
        incoming.cancel()
        return {"type": "websocket.disconnect", "code": 1011}

    try:
        await app(scope, receiving, sending)
    finally:
        principal = getattr(state.get("request"), "principal", None)
        line = {
            "requestId": state["request_id"],
            "method": "WEBSOCKET",
            "path": scope.get("path"),
            "closeCode": closed[0] if closed else None,
            "credential": getattr(principal, "credential_id", None),
            "tenant": getattr(principal, "tenant", None),
            "ms": round((time.perf_counter() - began) * 1000, 1),
        }
        access_log.info(json.dumps(line, separators=(",", ":")))
