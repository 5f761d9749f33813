"""Prometheus metrics of one app: GraphQL operations, MongoDB commands, ingestion, refusals.

Each app owns its registry (not prometheus_client's global one), so two apps in one process,
as in the tests, never add to each other's counts. The cache counters keep their own lines in
/metrics (service/http/health.py); everything here is appended after them.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from graphql import GraphQLError
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from pymongo import monitoring
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers.errors import with_code
from service.domain.model import RecordStatus
from service.ingest.service import BulkOutcome, Ingestor

# No *_created series: they double the output and nobody reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Operation names come from clients: only this many distinct ones get their own label.
MAX_OPERATION_NAMES = 200
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
MONGO_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30)


class Observability:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.operations = Counter(
            "cx_graphql_operations",
            "GraphQL operations by operation name and outcome (ok or the first error's code).",
            ["operation", "outcome"],
            registry=r,
        )
        self.operation_seconds = Histogram(
            "cx_graphql_operation_duration_seconds",
            "Time to answer one GraphQL operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.mongo_seconds = Histogram(
            "cx_mongo_command_duration_seconds",
            "MongoDB command latency as the driver measured it.",
            ["command", "outcome"],
            buckets=MONGO_BUCKETS,
            registry=r,
        )
        self.ingested = Counter(
            "cx_ingested_records",
            "Records received for ingestion by collection and status.",
            ["collection", "status"],
            registry=r,
        )
        self.rate_limited = Counter(
            "cx_rate_limit_refusals",
            "Requests refused by a rate limit (answered HTTP 429).",
            registry=r,
        )
        self._names: set[str] = set()

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _NAME.match(name):
            return "invalid"
        if name not in self._names:
            if len(self._names) >= MAX_OPERATION_NAMES:
                return "other"
            self._names.add(name)
        return name

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def outcome_of(errors: Sequence[GraphQLError]) -> str:
    if not errors:
        return "ok"
    code = (with_code(errors[0]).extensions or {}).get("code")
    return str(code) if code else "INTERNAL_SERVER_ERROR"


class OperationMetrics(SchemaExtension):
    """Counts and times every GraphQL operation (parse and validation included)."""

    async def on_operation(self) -> AsyncIterator[None]:
        started = time.perf_counter()
        raised: Exception | None = None
        try:
            yield
        except Exception as exc:  # e.g. a syntax error raised by ParserCache: answered later
            raised = exc
            raise
        finally:
            self._record(time.perf_counter() - started, raised)

    def _record(self, seconds: float, raised: Exception | None) -> None:
        request = getattr(self.execution_context.context, "request", None)
        obs = getattr(request.app.state, "observability", None) if request else None
        if not isinstance(obs, Observability):
            return
        result = self.execution_context.result
        errors = list(self.execution_context.pre_execution_errors or [])
        if result is not None and result.errors:
            errors.extend(result.errors)
        if raised is not None:
            errors.append(
                raised
                if isinstance(raised, GraphQLError)
                else GraphQLError(str(raised), original_error=raised)
            )
        outcome = outcome_of(errors)
        label = obs.operation_label(self.execution_context.operation_name)
        obs.operations.labels(label, outcome).inc()
        if not _is_subscription(self.execution_context):  # its time is its lifetime
            obs.operation_seconds.labels(label).observe(seconds)


def _is_subscription(execution_context: Any) -> bool:
    try:
        return bool(execution_context.operation_type is OperationType.SUBSCRIPTION)
    except RuntimeError:  # a document that names no operation it has
        return False


class MongoCommandMetrics(monitoring.CommandListener):
    def __init__(self, obs: Observability) -> None:
        self.obs = obs

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.obs.mongo_seconds.labels(event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.obs.mongo_seconds.labels(event.command_name, "error").observe(
            event.duration_micros / 1e6
        )


class CountingIngestor(Ingestor):
    """The Ingestor, counting each record's outcome for /metrics."""

    def __init__(self, *args: Any, observability: Observability, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.obs = observability

    def _count(self, collection: str, outcome: BulkOutcome) -> BulkOutcome:
        for status in RecordStatus:
            if n := outcome.count(status):
                self.obs.ingested.labels(collection, status.value).inc(n)
        return outcome

    async def upsert_customers(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        return self._count("customers", await super().upsert_customers(tenant, records))

    async def record_touchpoints(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        return self._count("touchpoints", await super().record_touchpoints(tenant, records))

    async def submit_survey_responses(self, tenant: str, records: Sequence[Any]) -> BulkOutcome:
        outcome = await super().submit_survey_responses(tenant, records)
        return self._count("survey_responses", outcome)


class RefusalCounter:
    """ASGI middleware: counts HTTP 429 answers, whichever limiter gave them."""

    def __init__(self, app: ASGIApp, obs: Observability) -> None:
        self.app = app
        self.obs = obs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                self.obs.rate_limited.inc()
            await send(message)

        await self.app(scope, receive, counting_send)
