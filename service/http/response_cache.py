"""A response cache in front of GraphQL execution (issue 9, docs/adr/0014).

For queries only, the whole response body is kept under (schema version, tenant, the
credential's scopes, a hash of the normalised document, the operation name, the
variables, the tenant's data version). A hit answers those bytes without parsing,
validating or executing anything — and, within ``CX_VERSION_STALENESS_MS`` of the last
version read, without touching MongoDB. Responses with errors are never kept. A write
through this replica moves the tenant's version at once (the Ingestor tells the
VersionFeed), so no answer from before it is served again here.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLSyntaxError,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    parse,
    print_ast,
    visit,
)
from graphql.language import VariableNode, Visitor
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.cache.metric_cache import BoundedMemoryCache
from service.domain.principal import Principal
from service.domain.request import RequestScope
from service.http.asgi import read_body, with_headers
from service.http.persisted_queries import request_of
from service.tenancy.directory import TenantSettings

SCHEMA_VERSION = 1
PASS = None  # not cacheable: go through


@dataclass(frozen=True)
class Document:
    digest: str  # of the normalised document
    queries: frozenset[str | None]  # the names of its query operations (None: anonymous)
    min_version: int | None  # the largest literal minDataVersion in it
    min_version_variables: frozenset[str]  # variables passed as minDataVersion

    def at_least(self, variables: dict[str, Any]) -> int | None:
        """The data version this request must not answer below, if it names one."""
        found = [v for k, v in variables.items()
                 if k in self.min_version_variables and isinstance(v, int)]  # fmt: skip
        if self.min_version is not None:
            found.append(self.min_version)
        return max(found) if found else None


class _Normalise(Visitor):
    """Argument order never changes an answer, so it never changes the key; and note where
    the document asks for a minimum data version."""

    def __init__(self) -> None:
        super().__init__()
        self.min_version: int | None = None
        self.min_version_variables: set[str] = set()

    def enter_field(self, node: FieldNode, *_: Any) -> FieldNode:
        for argument in node.arguments or ():
            if argument.name.value != "minDataVersion":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                self.min_version_variables.add(value.name.value)
            elif isinstance(value, IntValueNode):
                self.min_version = max(self.min_version or 0, int(value.value))
        if not node.arguments or len(node.arguments) < 2:
            return node
        fields = {k: getattr(node, k) for k in node.keys}
        fields["arguments"] = tuple(sorted(node.arguments, key=lambda a: a.name.value))
        return FieldNode(**fields)


class Documents:
    """What a document is, parsed once per distinct text (bounded)."""

    def __init__(self, size: int = 1024) -> None:
        self._seen: OrderedDict[str, Document | None] = OrderedDict()
        self.size = size

    def get(self, text: str) -> Document | None:
        if text in self._seen:
            self._seen.move_to_end(text)
            return self._seen[text]
        found = self._describe(text)
        self._seen[text] = found
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return found

    @staticmethod
    def _describe(text: str) -> Document | None:
        try:
            document: DocumentNode = parse(text, no_location=True)
        except GraphQLSyntaxError:
            return None  # execution answers the error
        visitor = _Normalise()
        normal = print_ast(visit(document, visitor))  # comments, spacing and order go
        queries = frozenset(
            d.name.value if d.name else None
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and d.operation is OperationType.QUERY
        )
        operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        if len(queries) != operations:
            queries = frozenset()  # a document that also holds a mutation is never cached
        return Document(hashlib.sha256(normal.encode()).hexdigest(), queries,
                        visitor.min_version, frozenset(visitor.min_version_variables))  # fmt: skip


@dataclass
class ResponseCacheStats:
    hits: int = 0  # answered from the cache (or 304)
    misses: int = 0  # executed
    bytes: int = 0  # kept


class ResponseKeys:
    """The cache key of a request, shared by this middleware and the hit path in front of
    the stack (service/http/hit_path.py): what a request text is, worked out once per
    distinct text, and the key composed from it, the principal, the tenant's data version
    and the tenant's settings."""

    def __init__(self) -> None:
        self.documents = Documents()
        self._requests: OrderedDict[tuple[str, bytes, bytes], Described | None] = OrderedDict()
        self._keys: dict[tuple[Described, str, frozenset[str], int, str], str] = {}

    async def key(self, scope: Scope, body: bytes, principal: Principal, cx: Any) -> str | None:
        """The key, reading the tenant's version and settings from the database if this
        replica does not hold them fresh; None when the request is not cacheable."""
        described = self.described(scope, body)
        if described is None:
            return PASS
        at_least = described[3]
        version = await cx.versions.get(principal.tenant, at_least)
        if at_least is not None and version < at_least:
            return PASS  # not reached: execution waits for it, or says so
        # The tenant's own settings (timezone, calendar, week start, ...) change answers to
        # the same document: read as execution reads them, so a change is never missed.
        return self._compose(principal, described, version,
                             await cx.tenants.get(principal.tenant))  # fmt: skip

    def known_key(self, scope: Scope, body: bytes, principal: Principal, cx: Any) -> str | None:
        """The same key from memory alone: None when it would need the database (a
        version or settings not held fresh) or the request is not cacheable."""
        described = self.described(scope, body)
        if described is None:
            return PASS
        version = cx.versions.known(principal.tenant, described[3])
        tenant_settings = cx.tenants.known(principal.tenant)
        if version is None or tenant_settings is None:
            return PASS
        return self._compose(principal, described, version, tenant_settings)

    def _compose(self, principal: Principal, described: Described, version: int,
                 tenant_settings: TenantSettings) -> str:  # fmt: skip
        """``compose``, remembered: a repeat costs a dictionary look-up, not a hash."""
        parts = (described, principal.tenant, principal.scopes, version,
                 tenant_settings.cache_part())  # fmt: skip
        found = self._keys.get(parts)
        if found is None:
            if len(self._keys) >= self.documents.size:
                self._keys.clear()  # bounded; rebuilt by the requests that come next
            found = self._keys[parts] = compose(principal, described, version, tenant_settings)
        return found

    def described(self, scope: Scope, body: bytes) -> Described | None:
        """What the key needs of a request, worked out once per distinct request text (a
        dashboard sends the same bytes again and again): no JSON parsed on a repeat."""
        if scope["method"] not in ("GET", "POST"):
            return PASS
        if len(body) > MAX_REMEMBERED_BODY:
            return _describe(scope, body, self.documents)
        text = (scope["method"], scope.get("query_string", b""), body)
        if text in self._requests:
            self._requests.move_to_end(text)
            return self._requests[text]
        found = self._requests[text] = _describe(scope, body, self.documents)
        if len(self._requests) > self.documents.size:
            self._requests.popitem(last=False)
        return found


def compose(principal: Principal, described: Described, version: int,
            tenant_settings: TenantSettings) -> str:  # fmt: skip
    digest, name, canonical, _ = described
    parts = [str(SCHEMA_VERSION), principal.tenant, _scopes(principal.scopes),
             digest, name, canonical, str(version), tenant_settings.cache_part()]  # fmt: skip
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def etag_of(key: str) -> bytes:
    return f'W/"{key[:40]}"'.encode()


class ResponseCache:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = scope.get("state", {}).get("request")  # built by the edge
        principal = request.principal if isinstance(request, RequestScope) else None
        cx = scope["app"].state.cx if scope["type"] == "http" else None
        if cx is None or principal is None or cx.settings.response_cache_entries == 0:
            await self.app(scope, receive, send)
            return
        if scope["path"] != "/graphql":
            await self.app(scope, receive, send)
            return
        read, receive = await read_body(receive)
        headers = dict(scope["headers"])
        key = PASS if headers.get(b"x-cx-dry-run") else (
            await cx.response_keys.key(scope, read or b"", principal, cx))  # fmt: skip
        if key is None:
            await self.app(scope, receive, send)
            return
        stats: ResponseCacheStats = cx.response_stats
        etag = etag_of(key)
        if scope["method"] == "GET":
            if headers.get(b"if-none-match") == etag:
                stats.hits += 1
                await send({"type": "http.response.start", "status": 304,
                            "headers": _revalidation(etag)})  # fmt: skip
                await send({"type": "http.response.body", "body": b""})
                return
            send = with_headers(send, _revalidation(etag))
        store: BoundedMemoryCache = cx.response_store
        found = await store.get(key)
        if found is not None:
            stats.hits += 1
            await send_cached(send, found)
            return
        stats.misses += 1
        captured = _Capture(send)
        await self.app(scope, receive, captured)
        if captured.cacheable():
            stats.bytes += len(captured.body)
            await store.set(key, (captured.headers, captured.body), ttl=cx.settings.cache_ttl_s)


@functools.lru_cache(maxsize=1024)
def _scopes(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


Described = tuple[str, str, str, int | None]  # document digest, operation, variables, minimum
MAX_REMEMBERED_BODY = 16_384


def _describe(scope: Scope, body: bytes, documents: Documents) -> Described | None:
    request = request_of(scope, body)
    if request is None or not isinstance(request.get("query"), str):
        return PASS
    document = documents.get(request["query"])
    name = request.get("operationName")
    if document is None or not (name in document.queries or
                                (name is None and len(document.queries) == 1)):  # fmt: skip
        return PASS  # a mutation, a syntax error, an ambiguous document
    if request.get("extensions"):
        return PASS
    variables = request.get("variables") or {}
    if not isinstance(variables, dict):
        return PASS  # execution answers the error
    canonical = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    return document.digest, str(name), canonical, document.at_least(variables)


def _revalidation(etag: bytes) -> list[tuple[bytes, bytes]]:
    # Answers are per credential: a browser may keep them, a shared cache may not.
    return [(b"etag", etag), (b"cache-control", b"private, no-cache")]


class _Capture:
    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [(k, v) for k, v in message.get("headers", [])
                            if k.lower() in (b"content-type",)]  # fmt: skip
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        await self.send(message)

    def cacheable(self) -> bool:
        return self.status == 200 and b'"errors"' not in self.body


Cached = tuple[list[tuple[bytes, bytes]], bytes]  # headers kept (content-type), body


def hit_headers(found: Cached) -> list[tuple[bytes, bytes]]:
    headers, body = found
    return [*headers, (b"content-length", str(len(body)).encode()), (b"x-cx-cache", b"hit")]


async def send_cached(send: Send, found: Cached) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": hit_headers(found)})
    await send({"type": "http.response.body", "body": found[1]})
