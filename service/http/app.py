"""Composition root: settings -> database -> services -> schema -> Starlette routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult

from resolvers.context import RequestContext
from resolvers.errors import timed_out, with_code
from resolvers.schema import build_schema
from service.auth.authenticator import Authenticator
from service.cache.metric_cache import BoundedMemoryCache, MetricCache, build_backend
from service.cache.single_flight import ReplicaLock
from service.domain.principal import CredentialKind, Principal
from service.domain.request import RequestScope
from service.http.background import every
from service.http.coordination_metrics import CoordinationMetrics
from service.http.db_guard import DatabaseGuard
from service.http.edge import Edge
from service.http.graphiql import ASSETS_DIR, ASSETS_PATH, graphiql_html
from service.http.health import livez, prometheus_metrics, readyz
from service.http.hit_path import answer_from_memory, takes
from service.http.ndjson import ingest_ndjson
from service.http.observability import (
    CountingIngestor,
    MongoCommandMetrics,
    Observability,
    OperationMetrics,
    RefusalCounter,
)
from service.http.persisted_queries import PersistedQueries
from service.http.query_allow_list import OnlyRegisteredQueries, RegisteredQueries
from service.http.rate_limits import RateLimiter
from service.http.response_cache import ResponseCache, ResponseCacheStats, ResponseKeys
from service.http.shutdown import Lifecycle
from service.http.websocket import LiveHandler, LiveSocket, live_context, on_connect
from service.ingest.service import Ingestor
from service.live.hub import LiveHub
from service.metrics.drift import DriftMonitor
from service.metrics.service import MetricsService, answer_params, cache_codec
from service.metrics.warmer import RollupWarmer
from service.reading.reader import Reader
from service.settings import Settings, get_settings
from service.store.client import PING_TIMEOUT_S, Mongo, connect
from service.store.indexes import ensure_indexes
from service.store.liveness import DatabaseWatch
from service.tenancy.directory import TenantDirectory
from service.tenancy.version_feed import VersionFeed
from service.webhooks.runtime import Webhooks

if TYPE_CHECKING:
    from service.http.tracing import Tracing

log = logging.getLogger("cxgraph")


@dataclass
class AppState:
    settings: Settings
    mongo: Mongo
    reader: Reader
    ingestor: Ingestor
    metrics: MetricsService
    cache: MetricCache
    drift: DriftMonitor
    authenticator: Authenticator
    rate_limiter: RateLimiter
    tenants: TenantDirectory
    versions: VersionFeed
    response_store: BoundedMemoryCache
    watch: DatabaseWatch
    live: LiveHub
    webhooks: Webhooks
    response_stats: ResponseCacheStats = field(default_factory=ResponseCacheStats)
    response_keys: ResponseKeys = field(default_factory=ResponseKeys)
    hit_path: bool = False  # repeated queries answered before the stack (service/http/hit_path.py)
    cors: bool = False  # CX_CORS_ORIGINS set
    indexes_ready: bool = False
    background: set[asyncio.Task[None]] = field(default_factory=set)
    registered_queries: RegisteredQueries | None = None
    warmer: RollupWarmer | None = None  # CX_WARM_ROLLUPS


class CxGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = LiveHandler  # subscriptions only, errors coded
    websocket_adapter_class = LiveSocket

    async def on_ws_connect(self, context: RequestContext) -> None:
        await on_connect(context)  # type: ignore[arg-type]  # a LiveContext: see get_context

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_html()  # its assets are served by this app, never by a CDN

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        _note_outcome(request, result)
        if result.errors:
            answers = False
            if any(timed_out(e) for e in result.errors):
                answers = await request.app.state.cx.mongo.ping(PING_TIMEOUT_S)
            settings = request.app.state.cx.settings
            request_id = getattr(request.state, "request_id", None)
            result.errors = [with_code(e, answers, request_id, settings.production)
                             for e in result.errors]  # fmt: skip
        return process_result(result)

    async def get_context(self, request: Any, response: Any) -> RequestContext:
        state: AppState = request.app.state.cx
        if request.scope["type"] == "websocket":  # a principal comes with connection_init
            return live_context(state, request)
        # Built by the edge (service/http/edge.py). The GraphiQL page alone passes the edge without
        # a credential, and Strawberry builds a context before rendering it: no scope at all.
        asker: RequestScope | None = getattr(request.state, "request", None)
        if asker is None:
            asker = RequestScope(request.state.request_id, Principal(
                credential_id="graphiql-page", tenant=state.settings.default_tenant,
                scopes=frozenset(), kind=CredentialKind.ANONYMOUS,
            ), time.monotonic())  # fmt: skip
        tenant_settings = await state.tenants.get(asker.tenant)
        context = RequestContext(
            tenant=asker.tenant,
            principal=asker.principal,
            request_id=asker.request_id,
            deadline=asker.deadline,
            settings=tenant_settings.applied_to(state.settings),  # the tenant's own view
            reader=state.reader,
            ingestor=state.ingestor,
            metrics=state.metrics,
            rate_limiter=state.rate_limiter,
            webhooks=state.webhooks.service,
            request=request,
            response=response,
        )
        request.state.cx_context = context
        return context


class CxApp(Starlette):
    """Starlette, with a repeated query answered from memory before its middleware stack."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["app"] = self
            receive = await answer_from_memory(self, scope, receive, send)
            if receive is None:
                return
        await super().__call__(scope, receive, send)


def _origins(settings: Settings) -> list[str]:
    return [o.strip() for o in settings.cors_origins.split(",") if o.strip()]


def _cors(settings: Settings) -> list[Middleware]:
    """Off unless CX_CORS_ORIGINS lists the origins a browser may call from."""
    origins = _origins(settings)
    if not origins:
        return []
    return [Middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                       allow_headers=["authorization", "content-type", "x-api-key",
                                      "x-request-id", "x-cx-dry-run"],
                       expose_headers=["x-request-id", "retry-after"])]  # fmt: skip


def _note_outcome(request: Any, result: ExecutionResult) -> None:
    """What the access log line says of a GraphQL request (service/http/edge.py)."""
    state = request.scope.setdefault("state", {})
    context = getattr(request.state, "cx_context", None)
    state["cost"] = getattr(context, "cost", None)
    state["operation"] = getattr(context, "operation_name", None)
    codes = sorted({str((e.extensions or {}).get("code", "INTERNAL_SERVER_ERROR"))
                    for e in result.errors or []})  # fmt: skip
    state["outcome"] = "ok" if not codes else ",".join(codes)


async def _ensure_indexes_until_done(state: AppState) -> None:
    """A database that is down at start-up must not stop the pod: keep trying, stay unready."""
    delay = 0.5
    while True:
        try:
            await ensure_indexes(state.mongo)
        except Exception as exc:
            log.warning("creating indexes failed (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        else:
            state.indexes_ready = True
            return


CLOSE_TIMEOUT_S = 5.0  # how long one part of the stop may take before it is left behind


async def _within(what: str, closing: Awaitable[None]) -> None:
    """Close ``what``, or give up on it after CLOSE_TIMEOUT_S with a warning."""
    try:
        await asyncio.wait_for(closing, CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("stopping: closing %s took over %.0f s; left behind", what, CLOSE_TIMEOUT_S)


def _spawn(state: AppState, job: Any) -> None:
    task = asyncio.create_task(job)
    state.background.add(task)
    task.add_done_callback(state.background.discard)


def _start_maintenance(state: AppState) -> None:
    """Recovery of writes whose process died, and the optional sampled drift check."""
    settings = state.settings
    after = timedelta(seconds=settings.write_recovery_after_s)
    _spawn(state, every(settings.write_recovery_after_s / 2, "write recovery",
                        lambda: state.ingestor.recover_abandoned(after)))  # fmt: skip
    if settings.drift_check_interval_s > 0:
        _spawn(state, every(settings.drift_check_interval_s, "rollup drift check",
                            state.drift.run_once))  # fmt: skip
    # Webhooks (docs/adr/0022): deliveries, threshold checks after writes, old records out.
    state.webhooks.start()  # its own loops, stopped (not cancelled) by its close()


def _start_warmer(state: AppState, coordination: CoordinationMetrics) -> None:
    """Rollup days a write touched are materialised in the background (ADR 0023)."""
    settings = state.settings
    if not settings.warm_rollups:
        return
    state.warmer = RollupWarmer(
        state.mongo, state.tenants, concurrency=settings.warm_concurrency,
        delay_s=settings.warm_delay_ms / 1000, lease_s=settings.warm_lease_s,
        observe=coordination.warm_seconds.observe,
    )  # fmt: skip
    state.ingestor.on_days_written = state.warmer.notify
    state.warmer.start()


def create_app(
    settings: Settings | None = None,
    *,
    lifecycle: Lifecycle | None = None,
    tracing: Tracing | None = None,
) -> Starlette:
    """The app. ``lifecycle`` is shared with the server that drains it on SIGTERM;
    ``tracing`` overrides the one CX_OTEL_ENDPOINT would build (tests use an in-memory one)."""
    settings = settings or get_settings()
    lifecycle = lifecycle or Lifecycle()
    observability = Observability()
    coordination = CoordinationMetrics(observability.registry)
    if tracing is None and settings.otel_endpoint:
        from service.http.tracing import Tracing  # the `otel` extra, imported only when asked for

        tracing = Tracing.otlp(settings.otel_endpoint)
    listeners: list[Any] = [MongoCommandMetrics(observability)]
    live = LiveHub(settings.subscriptions_per_key, observability.registry)
    if tracing is not None:
        listeners.append(tracing.mongo_listener())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        mongo = connect(settings, event_listeners=listeners)
        cache = MetricCache(
            build_backend(settings), settings.cache_ttl_s, cache_codec(), answer_params(settings)
        )
        if tracing is not None:  # after MetricCache has hooked its stats into the backend
            cache.backend = tracing.traced_cache(cache.backend)
        if settings.cache_backend == "redis" and settings.single_flight_timeout_ms > 0:
            cache.flight = ReplicaLock(settings.redis_url, settings.single_flight_timeout_ms)
        tenant_dir = TenantDirectory(mongo, settings)
        versions = VersionFeed(mongo, settings.version_staleness_ms)  # one per replica
        versions.on_served = coordination.version_lag.observe
        versions.on_settings_changed = tenant_dir.forget  # `tenants set` seen within the bound
        if settings.version_feed == "auto":  # others' writes pushed by a change stream (ADR 26)
            versions.start(connect(settings, max_pool_size=1, appname="cxgraph-versions"))
        metrics = MetricsService(mongo, settings, cache, tenant_dir, versions)
        state = AppState(
            settings=settings,
            mongo=mongo,
            reader=Reader(mongo, settings),
            ingestor=CountingIngestor(
                mongo, settings, tenant_dir, versions, observability=observability
            ),
            metrics=metrics,
            tenants=tenant_dir,
            versions=versions,
            response_store=BoundedMemoryCache(max(settings.response_cache_entries, 1)),
            cache=cache,
            drift=DriftMonitor(mongo, settings, tenants=tenant_dir),
            authenticator=Authenticator(mongo, settings),
            rate_limiter=RateLimiter(settings),
            # A client of its own: the ping never queues behind the requests' connections.
            live=live,
            watch=DatabaseWatch(
                connect(settings, max_pool_size=2, appname="cxgraph-watch"),
                settings.mongo_server_selection_timeout_s,
            ),
            webhooks=Webhooks(mongo, settings, metrics, tenant_dir, versions),
        )
        state.registered_queries = RegisteredQueries(mongo)
        state.hit_path, state.cors = takes(state), bool(_origins(settings))
        _start_warmer(state, coordination)
        coordination.state = state
        state.ingestor.announcer = state.webhooks.outbox  # a write records its deliveries
        app.state.cx = state
        live.start(versions)
        try:
            await ensure_indexes(mongo)
            state.indexes_ready = True
        except Exception as exc:
            log.warning("database not ready at start-up (%s); will keep trying", exc)
            _spawn(state, _ensure_indexes_until_done(state))
        _start_maintenance(state)
        try:
            yield
        finally:
            # In-flight requests are done (uvicorn waited for them): now close the clients.
            # Each step is bounded: a task cancelled inside a driver call can leave the driver's
            # topology lock taken (seen once in ~10 stops with the database gone), and a stop
            # that waits for it forever would outlive the pod's grace period.
            if state.warmer is not None:
                await _within("the rollup warmer", state.warmer.close())
            background = list(state.background)
            for task in background:
                task.cancel()
            if background:
                await asyncio.wait(background, timeout=CLOSE_TIMEOUT_S)
            await _within("live subscriptions", live.close())
            await _within("the version feed", versions.close())
            try:
                await _within("webhooks", state.webhooks.close())  # uses cache and database
                await _within("the metric cache", cache.close())
                await _within("the rate limiter", state.rate_limiter.close())
            finally:
                await _within("the watch's database client", state.watch.mongo.close())
                await _within("the database client", mongo.close())
                if tracing is not None:
                    tracing.shutdown()

    extensions: list[type[SchemaExtension]] = [OperationMetrics]
    if tracing is not None:
        extensions.append(tracing.schema_extension())
    graphql_app = CxGraphQL(
        build_schema(extensions, production=settings.production),
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,  # queries only: a GET mutation is refused (405)
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=settings.subscription_init_timeout_s),
        max_subscriptions_per_connection=None,  # CX_SUBSCRIPTIONS_PER_KEY, per credential
        allowed_origins=_origins(settings),  # browsers on other origins, as for CORS
    )

    routes: list[BaseRoute] = [
        Route("/graphql", graphql_app),
        WebSocketRoute("/graphql", graphql_app),  # subscriptions (service/http/websocket.py)
        Route("/livez", livez),
        Route("/readyz", readyz),
        Route("/ingest/{collection}", ingest_ndjson, methods=["POST"]),
        Route("/metrics", prometheus_metrics),
    ]
    if settings.graphiql:
        routes.append(Mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR)))
    app = CxApp(
        routes=routes,
        # Outermost first: the refusal counter sees the edge's 401/413/429 answers; the
        # database guard answers a database failure that escapes (authentication) UNAVAILABLE.
        middleware=[
            *_cors(settings),
            Middleware(RefusalCounter, obs=observability),
            Middleware(DatabaseGuard),
            Middleware(Edge),
            Middleware(PersistedQueries),  # hash-only requests become ordinary ones
            *([Middleware(OnlyRegisteredQueries)] if settings.only_registered_queries else []),
            Middleware(ResponseCache),  # after the edge: it keys answers by the principal
        ],
        lifespan=lifespan,
    )
    app.state.lifecycle = lifecycle
    app.state.observability = observability
    return app


def export_sdl() -> str:
    """The schema as SDL, for schema.graphql and clients' code generators."""
    return build_schema().as_str() + "\n"
