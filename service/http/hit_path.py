"""The hit path: a repeated query answered from the response cache before the middleware stack.

A dashboard sends the same bytes again and again. When everything such a request needs is
in this replica's memory — the credential verified less than ``CX_AUTH_CACHE_S`` ago, the
tenant's data version within ``CX_VERSION_STALENESS_MS``, its settings, the answer itself —
the request is answered here, in one pass, with the checks the edge would make (request id,
JSON body within the limit and its deadline, rate limit, access log) and none of the layers'
wrapping. Anything else, or any doubt, goes through the whole stack unchanged (the body
handed on as read): this path never refuses what the stack would accept, and never answers
what the stack would not have answered from the same cache (docs/adr/0025).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from service.domain.request import RequestScope
from service.http.asgi import media_type, read_body
from service.http.edge import (
    JSON_TYPES,
    dropping,
    headers_of,
    log_access,
    refuse_rate,
    refuse_slow_body,
    request_id_of,
    send_timeout_of,
    with_request_id,
)
from service.http.response_cache import MAX_REMEMBERED_BODY, hit_headers
from service.http.slow_clients import BodyTimeout, receive_within, send_by


def takes(cx: Any) -> bool:
    """Whether this app's hit path is on: a response cache, and no per-request check that
    needs more than memory (only registered documents: the allow-list may change)."""
    settings = cx.settings
    return settings.response_cache_entries > 0 and not settings.only_registered_queries


async def answer_from_memory(app: Starlette, scope: Scope, receive: Receive,
                             send: Send) -> Receive | None:  # fmt: skip
    """None when the request was answered here; otherwise the receive to go on with."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/graphql":
        return receive
    cx = getattr(app.state, "cx", None)  # None before start-up has finished
    if cx is None or not cx.hit_path:
        return receive
    headers = headers_of(scope)
    if media_type(headers) not in JSON_TYPES:
        return receive
    if "x-cx-dry-run" in headers or ("origin" in headers and cx.cors):
        return receive  # CORS headers are the CORS middleware's to write
    length = headers.get("content-length", "")
    settings = cx.settings
    if not length.isdigit() or int(length) > min(MAX_REMEMBERED_BODY, settings.max_body_bytes):
        return receive
    principal = cx.authenticator.remembered(headers)
    if principal is None:
        return receive
    began = time.perf_counter()
    state = scope.setdefault("state", {})
    request_id = state["request_id"] = request_id_of(headers)
    status: list[int] = []
    try:
        try:
            body, receive = await read_body(receive_within(receive, settings.body_timeout_s))
        except BodyTimeout as slow:
            await refuse_slow_body(with_request_id(send, request_id, status), slow)
            return None
        key = cx.response_keys.known_key(scope, body or b"", principal, cx)
        found = await cx.response_store.get(key) if key is not None else None
        if found is None:
            return receive
        deadline = time.monotonic() + settings.mongo_query_timeout_s  # as the edge gives it
        state["request"] = RequestScope(request_id, principal, deadline)
        verdict = await cx.rate_limiter.hit(principal.credential_id)
        if not verdict.allowed:
            app.state.observability.rate_limited.inc()
            await refuse_rate(with_request_id(send, request_id, status), verdict)
            return None
        cx.response_stats.hits += 1
        status.append(200)
        head = [*hit_headers(found), (b"x-request-id", request_id.encode())]
        await send_by(send, {"type": "http.response.start", "status": 200, "headers": head},
                      settings.send_timeout_s)  # fmt: skip
        await send_by(send, {"type": "http.response.body", "body": found[1]},
                      settings.send_timeout_s)  # fmt: skip
    except BaseException as exc:
        timeout = send_timeout_of(exc)
        if timeout is None:
            raise
        dropping(scope, timeout)
    finally:
        if status:
            log_access(scope, state, status, time.perf_counter() - began)
    return None
