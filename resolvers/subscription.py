"""Root subscriptions: thin — check the arguments, then let service/live run the answers."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers.arguments import build_query
from resolvers.context import CxInfo
from resolvers.errors import from_domain
from resolvers.live_context import LiveContext
from schema.inputs import TimeWindow
from schema.live import MetricChange
from schema.metrics import DimensionValue, MetricFilter, MetricGroup, MetricResult
from schema.permissions import MetricsRead
from service.domain.errors import BadUserInput, CxError
from service.domain.metrics.query import MetricQuery
from service.domain.metrics.results import MetricResult as Result
from service.domain.model import Dimension, MetricKind
from service.live.answers import Answer, live_answers
from service.store.client import UNAVAILABLE_ERRORS, is_timeout

Groups = list[MetricGroup]


class OverWebSocketOnly(SchemaExtension):
    """A subscription sent over HTTP is answered with an error that says where to send it
    (executed as a query, its stream would fail as an internal error)."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.operation_type is OperationType.SUBSCRIPTION and not isinstance(
            ctx.context, LiveContext
        ):
            error = BadUserInput("subscriptions run over WebSocket (graphql-transport-ws) at "
                                 "/graphql", reason="WEBSOCKET_REQUIRED")  # fmt: skip
            ctx.result = GraphQLExecutionResult(data=None, errors=[from_domain(error)])
        yield


def _groups(rows: list[tuple[tuple[str | None, ...], Result]], q: MetricQuery) -> Groups:
    return [
        MetricGroup(
            keys=[DimensionValue(dimension=d, value=v) for d, v in zip(q.by, keys, strict=True)],
            result=MetricResult.from_outcome(result, q),
        )
        for keys, result in rows
    ]


@strawberry.type
class Subscription:
    @strawberry.subscription(
        permission_classes=[MetricsRead],
        description="A metric, or its breakdown by one or two dimensions, kept current over "
        "WebSocket (graphql-transport-ws): the current answer first, then a new answer only "
        "when a write changed it, once the writes pause for CX_SUBSCRIPTION_DEBOUNCE_MS.",
    )
    async def metric_changed(
        self,
        info: CxInfo,
        kind: MetricKind,
        by: list[Dimension] | None = None,
        window: TimeWindow | None = None,
        filter: MetricFilter | None = None,
        timezone: str | None = None,
    ) -> AsyncGenerator[MetricChange, None]:
        ctx = info.context
        assert isinstance(ctx, LiveContext) and ctx.live is not None  # OverWebSocketOnly
        live = ctx.live
        dims = list(by or ())
        if len(dims) > 2 or len(set(dims)) != len(dims):
            raise BadUserInput("break down by none, one or two different dimensions",
                               reason="INVALID_DIMENSIONS")  # fmt: skip
        build_query(ctx.settings, kind, window, filter, by=dims, timezone=timezone)  # checked
        first = True

        async def compute() -> Answer[Groups]:
            nonlocal first
            await ctx.recheck()  # UNAUTHENTICATED ends the subscription
            watch = ctx.request.app.state.cx.watch
            try:
                # A default window is the last 30 days as of now: it moves at midnight.
                q = build_query(ctx.settings, kind, window, filter, by=dims, timezone=timezone)
                async with watch.guard():
                    if dims:
                        version = await ctx.metrics.data_version(ctx.tenant, None)
                        rows = await ctx.metrics.breakdown(ctx.tenant, q, version)
                        version = rows[0][1].data_version if rows else version
                    else:
                        result = await ctx.metrics.metric(ctx.tenant, q, None)
                        rows, version = [((), result)], result.data_version
            except CxError as exc:
                if first and (exc.extensions or {}).get("code") == "BAD_USER_INPUT":
                    raise  # the arguments are wrong: no later write will change that
                return _failed(exc, tenant.version, exc.message)
            except Exception as exc:  # the database away or slow: coded on the way out
                if not (isinstance(exc, UNAVAILABLE_ERRORS) or is_timeout(exc)):
                    raise
                return _failed(exc, tenant.version, type(exc).__name__)
            first = False
            # Equal answers: the same groups with the same values over the same window; when
            # and at which version they were computed does not count.
            fingerprint = (q.window, q.timezone.key, tuple(
                (keys, r.value, r.low_sample, r.definition) for keys, r in rows))  # fmt: skip
            return Answer(_groups(rows, q), version, fingerprint)

        debounce_s = ctx.request.app.state.cx.settings.subscription_debounce_ms / 1000
        async with live.subscription(ctx.principal.credential_id, ctx.tenant) as tenant:
            async for answer in live_answers(tenant, compute, debounce_s, live.sent):
                yield MetricChange(data_version=answer.version, answer=answer.payload,
                                   error=answer.error)  # fmt: skip


def _failed(exc: Exception, version: int, what: str) -> Answer[Groups]:
    code = str((getattr(exc, "extensions", None) or {}).get("code", "UNAVAILABLE"))
    return Answer(None, max(version, 0), ("error", code, what), error=exc)
