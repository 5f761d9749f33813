"""Query cost, computed from the document before anything runs (Strawberry has no cost
analysis of its own).

The model (README "Security", docs/adr/0012):
- every object field costs 1 (scalars come with their object);
- a connection (`customers`, `touchpoints`, `surveyResponses`, also under a customer)
  multiplies what is selected inside it by its page size (`first`, else the default);
- a list without a page size (`journeys`, `stages`, `breakdown` groups) by a fixed guess;
- a metric field adds the work it implies: an aggregation for `metric`, twice that for a
  `breakdown` in two dimensions, one per period for a `trend` (a DAY trend over 400 days
  costs 400), two for `compare`, more for `journeyFunnel`, five for `drivers` (a raw read
  and a bootstrap of 1,000 resamples).

Over `CX_MAX_QUERY_COST` the request is refused with QUERY_TOO_COSTLY (cost and limit in
the error) without executing; every answer carries `extensions.cost`; a dry run (header
`X-CX-Dry-Run: 1` or the request extension `{"dryRun": true}`) answers the cost alone.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from resolvers.errors import from_domain
from service.domain.errors import CxError

CONNECTIONS = frozenset({"customers", "touchpoints", "surveyResponses", "webhookDeliveries"})
LISTS = {"journeys": 10, "stages": 10, "breakdown": 20, "segments": 20, "journeyFunnel": 10,
         "ranking": 8, "groups": 20, "webhooks": 25, "thresholds": 10,
         "attemptLog": 20}  # fmt: skip
AGGREGATION = 10
METRIC_WORK = {"metric": AGGREGATION, "breakdown": AGGREGATION, "compare": 2 * AGGREGATION,
               "journeyFunnel": 3 * AGGREGATION, "segments": AGGREGATION,
               "drivers": 5 * AGGREGATION}  # fmt: skip
PERIOD_DAYS = {"DAY": 1, "WEEK": 7, "MONTH": 30}
DEFAULT_WINDOW_DAYS = 30


class QueryTooCostly(CxError):
    code = "QUERY_TOO_COSTLY"

    def __init__(self, cost: int, limit: int) -> None:
        super().__init__(
            f"the query costs {cost}, more than the limit of {limit} (CX_MAX_QUERY_COST): "
            "ask for smaller pages, fewer periods or fewer fields",
            cost=cost,
            limit=limit,
        )


class CostBudgetSpent(CxError):
    code = "RATE_LIMITED"

    def __init__(self, cost: int, retry_after_s: int) -> None:
        super().__init__(
            f"this credential has spent its query cost per minute "
            f"(CX_RATE_LIMIT_COST_PER_MINUTE); this query costs {cost}; retry in "
            f"{retry_after_s} s",
            cost=cost,
            retryAfterSeconds=retry_after_s,
        )


class _Costing:
    def __init__(
        self, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any],
        page_size: int,
    ) -> None:  # fmt: skip
        self.fragments = fragments
        self.variables = variables
        self.page_size = page_size

    def selection(self, selection_set: SelectionSetNode | None, seen: frozenset[str]) -> int:
        return sum(self.field(f, seen) for f in self._fields(selection_set, seen))

    def _fields(
        self, selection_set: SelectionSetNode | None, seen: frozenset[str]
    ) -> Iterator[FieldNode]:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                yield node
            elif isinstance(node, InlineFragmentNode):
                yield from self._fields(node.selection_set, seen)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                fragment = self.fragments.get(node.name.value)
                if fragment is not None:  # cycles are refused by validation; guard anyway
                    yield from self._fields(fragment.selection_set, seen | {node.name.value})

    def _args(self, node: FieldNode) -> dict[str, Any]:
        return {a.name.value: value_from_ast_untyped(a.value, self.variables)
                for a in node.arguments or ()}  # fmt: skip

    def field(self, node: FieldNode, seen: frozenset[str]) -> int:
        name, args = node.name.value, self._args(node)
        if node.selection_set is None:
            return 0  # a scalar comes with its object (and shares names: `metric`, `segments`)
        inner = self.selection(node.selection_set, seen)
        if name in CONNECTIONS:
            first = args.get("first")
            size = first if isinstance(first, int) and first > 0 else self.page_size
            return 1 + size * inner
        multiplier = LISTS.get(name, 1)
        return 1 + self._work(name, args) + multiplier * inner

    def _work(self, name: str, args: dict[str, Any]) -> int:
        if name == "trend":
            days = _window_days(args.get("window"))
            return AGGREGATION + math.ceil(days / PERIOD_DAYS.get(str(args.get("granularity")), 1))
        if name in ("breakdown", "metricChanged"):  # a subscription: its first answer's work
            dimensions = args.get("by")
            return AGGREGATION * max(1, len(dimensions) if isinstance(dimensions, list) else 1)
        return METRIC_WORK.get(name, 0)


def _window_days(window: Any) -> int:
    if not isinstance(window, dict):
        return DEFAULT_WINDOW_DAYS
    try:
        start = datetime.fromisoformat(str(window["from"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(window["to"]).replace("Z", "+00:00"))
        seconds = (end - start).total_seconds()
    except (KeyError, ValueError, TypeError):
        return DEFAULT_WINDOW_DAYS  # a bad window is refused by the resolver itself
    return max(1, math.ceil(seconds / 86400))


def query_cost(document: Any, operation_name: str | None, variables: dict[str, Any],
               page_size: int) -> int:  # fmt: skip
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}  # fmt: skip
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations
              if operation_name is None or (o.name and o.name.value == operation_name)]  # fmt: skip
    if not chosen:
        return 0
    return _Costing(fragments, variables, page_size).selection(chosen[0].selection_set,
                                                               frozenset())  # fmt: skip


class QueryCost(SchemaExtension):
    """Computes the cost once the document is valid; refuses, dry-runs or reports it."""

    cost: int | None = None
    dry_run: bool = False

    async def on_execute(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        context = ctx.context
        settings = context.settings
        self.cost = query_cost(ctx.graphql_document, ctx.operation_name, ctx.variables or {},
                               settings.default_page_size)  # fmt: skip
        headers = getattr(context.request, "headers", {}) or {}
        self.dry_run = headers.get("x-cx-dry-run", "") in ("1", "true") or bool(
            (ctx.operation_extensions or {}).get("dryRun")
        )
        context.cost = self.cost
        context.operation_name = ctx.operation_name
        if self.cost > settings.max_query_cost:
            error: CxError = QueryTooCostly(self.cost, settings.max_query_cost)
            ctx.result = GraphQLExecutionResult(data=None, errors=[from_domain(error)])
        elif self.dry_run:
            ctx.result = GraphQLExecutionResult(data=None, errors=None)
        else:
            verdict = await context.rate_limiter.spend(context.principal.credential_id, self.cost)
            if not verdict.allowed:
                error = CostBudgetSpent(self.cost, verdict.retry_after_s)
                ctx.result = GraphQLExecutionResult(data=None, errors=[from_domain(error)])
                if context.response is not None:  # HTTP 429 like the request limit
                    context.response.status_code = 429
                    context.response.headers["retry-after"] = str(verdict.retry_after_s)
        yield

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": self.cost, **({"dryRun": True} if self.dry_run else {})}
