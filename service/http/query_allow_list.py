"""Registered documents at run time: found by hash for persisted queries, and with
``CX_ONLY_REGISTERED_QUERIES`` the only documents that run (docs/adr/0023).

:class:`RegisteredQueries` is this replica's view of ``registered_queries``: what it found
(or did not find) is remembered for ``REMEMBER_S``, so a registration or a removal
reaches every replica within that time and a known document costs no database read.
:class:`OnlyRegisteredQueries` sits after the edge (a request without a credential is
401 first) and the persisted-query layer (a hash-only request is checked as the document
it stands for), before the response cache (a refused document is never answered from it).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from starlette.types import ASGIApp, Receive, Scope, Send

from service.domain.request import RequestScope
from service.http.asgi import answer, error_body, read_body
from service.http.persisted_queries import request_of
from service.http.response_cache import Documents
from service.store import registered_queries
from service.store.client import Mongo
from service.store.registered_queries import Registered

REMEMBER_S = 5.0
MAX_REMEMBERED = 10_000


class RegisteredQueries:
    def __init__(self, mongo: Mongo, remember_s: float = REMEMBER_S) -> None:
        self.mongo = mongo
        self.remember_s = remember_s
        self._seen: OrderedDict[str, tuple[float, Registered | None]] = OrderedDict()
        self.reads = 0  # database reads, for tests

    async def find(self, digest_or_hash: str) -> Registered | None:
        now = time.monotonic()
        seen = self._seen.get(digest_or_hash)
        if seen is not None and now - seen[0] < self.remember_s:
            return seen[1]
        self.reads += 1
        found = await registered_queries.find(self.mongo, digest_or_hash)
        self._seen[digest_or_hash] = (now, found)
        self._seen.move_to_end(digest_or_hash)
        while len(self._seen) > MAX_REMEMBERED:
            self._seen.popitem(last=False)
        return found


class OnlyRegisteredQueries:
    """Refuses GraphQL documents nobody registered: HTTP 400 ``QUERY_NOT_REGISTERED``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.documents = Documents()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != "/graphql"
            or scope["method"] not in ("GET", "POST")
            # built by the edge for every credential; only the GraphiQL page passes without
            or not isinstance(scope.get("state", {}).get("request"), RequestScope)
        ):
            await self.app(scope, receive, send)
            return
        read, receive = await read_body(receive)
        request = request_of(scope, read or b"")
        query = (request or {}).get("query")
        if not isinstance(query, str):  # no document: nothing runs, GraphQL says why
            await self.app(scope, receive, send)
            return
        document = self.documents.get(query)
        known: RegisteredQueries = scope["app"].state.cx.registered_queries
        if document is None or await known.find(document.digest) is None:
            digest = {"documentHash": document.digest} if document else {}
            await answer(send, 400, error_body(
                "this service runs registered documents only; register this one with "
                "`cxgraph queries register FILE`", code="QUERY_NOT_REGISTERED", **digest,
            ))  # fmt: skip
            return
        await self.app(scope, receive, send)
