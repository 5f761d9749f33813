"""OpenTelemetry tracing, imported only when CX_OTEL_ENDPOINT is set (extra ``otel``).

One SERVER span per GraphQL operation; a child span per field with a resolver of our own
(those are the ones that read MongoDB or the cache; plain attribute fields get none); below
them a CLIENT span per MongoDB command and per cache get/set. Resolver arguments and query
text are not recorded: they may hold customers' personal data.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pymongo import monitoring
from strawberry.extensions import SchemaExtension
from strawberry.extensions.utils import is_introspection_field
from strawberry.resolvers import is_default_resolver


class Tracing:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("cxgraph")

    @classmethod
    def to_exporter(cls, exporter: SpanExporter) -> Tracing:
        provider = TracerProvider(resource=Resource.create({"service.name": "cxgraph"}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider)

    @classmethod
    def otlp(cls, endpoint: str) -> Tracing:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # A collector that is down must not hold up shutdown past its allowance (4 s in k8s/).
        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces", timeout=2)
        return cls.to_exporter(exporter)

    def schema_extension(self) -> type[SchemaExtension]:
        tracer = self.tracer

        class OperationSpans(SchemaExtension):
            span: Span | None = None

            async def on_operation(self) -> AsyncIterator[None]:
                span = tracer.start_span("graphql.operation", kind=SpanKind.SERVER)
                self.span = span
                token = otel_context.attach(trace.set_span_in_context(span))
                try:
                    yield
                finally:
                    otel_context.detach(token)
                    ctx = self.execution_context
                    name = ctx.operation_name
                    operation = ctx.operation_type.value if ctx.operation_type else "query"
                    span.update_name(
                        f"graphql.{operation} {name}" if name else f"graphql.{operation}"
                    )
                    span.set_attribute("graphql.operation.type", operation)
                    if name:
                        span.set_attribute("graphql.operation.name", name)
                    errors = ctx.pre_execution_errors or (ctx.result.errors if ctx.result else None)
                    if errors:
                        span.set_status(Status(StatusCode.ERROR, errors[0].message[:200]))
                    span.end()

            async def resolve(
                self,
                _next: Callable[..., Any],
                root: Any,
                info: GraphQLResolveInfo[Any],
                *args: Any,
                **kwargs: Any,
            ) -> Any:
                field = info.parent_type.fields.get(info.field_name)
                if (
                    self.span is None
                    or field is None
                    or field.resolve is None
                    or is_default_resolver(field.resolve)
                    or is_introspection_field(info)
                ):
                    result = _next(root, info, *args, **kwargs)
                    return await result if inspect.isawaitable(result) else result
                name = f"graphql.resolve {info.parent_type.name}.{info.field_name}"
                with tracer.start_as_current_span(name) as span:
                    span.set_attribute(
                        "graphql.field.path", ".".join(map(str, info.path.as_list()))
                    )
                    result = _next(root, info, *args, **kwargs)
                    return await result if inspect.isawaitable(result) else result

        return OperationSpans

    def mongo_listener(self) -> monitoring.CommandListener:
        return MongoSpans(self.tracer)

    def traced_cache(self, backend: Any) -> Any:
        return None if backend is None else TracedCache(backend, self.tracer)

    def shutdown(self) -> None:
        self.provider.shutdown()


class MongoSpans(monitoring.CommandListener):
    """A CLIENT span per command, child of whatever span is current when it starts."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self.open: dict[tuple[int, Any], Span] = {}

    @staticmethod
    def _key(event: Any) -> tuple[int, Any]:
        return (event.request_id, event.connection_id)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        span = self.tracer.start_span(f"mongodb.{event.command_name}", kind=SpanKind.CLIENT)
        span.set_attribute("db.system", "mongodb")
        span.set_attribute("db.name", event.database_name)
        span.set_attribute("db.operation", event.command_name)
        self.open[self._key(event)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self.open.pop(self._key(event), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self.open.pop(self._key(event), None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR, str(event.failure)[:200]))
            span.end()


class TracedCache:
    """The aiocache backend with a span around each get and set."""

    def __init__(self, backend: Any, tracer: trace.Tracer) -> None:
        self.backend = backend
        self.tracer = tracer

    async def get(self, key: str) -> Any:
        with self.tracer.start_as_current_span("cache.get", kind=SpanKind.CLIENT) as span:
            found = await self.backend.get(key)
            span.set_attribute("cache.hit", found is not None)
            return found

    async def set(self, key: str, value: Any, ttl: int | None = None) -> Any:
        with self.tracer.start_as_current_span("cache.set", kind=SpanKind.CLIENT):
            return await self.backend.set(key, value, ttl=ttl)

    async def close(self) -> None:
        await self.backend.close()
