"""The executable schema: root types plus the extensions every request goes through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from resolvers.cost import QueryCost
from resolvers.database_watch import watch_root_fields
from resolvers.errors import log_errors
from resolvers.mutation import Mutation
from resolvers.query import Query
from resolvers.subscription import OverWebSocketOnly, Subscription
from schema.scalars import SCALAR_OVERRIDES

MAX_TOKENS = 5000  # a dashboard's document is a few hundred tokens; a bomb is many thousands


class CxSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        context = getattr(execution_context, "context", None)
        log_errors(errors, getattr(context, "request_id", None))


def build_schema(
    extensions: Sequence[type[SchemaExtension]] = (), production: bool = False
) -> strawberry.Schema:
    """``extensions``: the app's own (metrics, tracing), around every operation.
    ``production``: no introspection (field suggestions are cut from errors at the edge)."""
    hardening: list[Any] = [DisableIntrospection] if production else []
    watch_root_fields(Query, Mutation)
    return CxSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        scalar_overrides=SCALAR_OVERRIDES,
        # Factories: a fresh extension per request (the caches live at module level).
        extensions=[
            lambda: QueryDepthLimiter(max_depth=12),
            lambda: MaxAliasesLimiter(max_alias_count=30),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            *hardening,
            OverWebSocketOnly,
            QueryCost,
            *extensions,
        ],
    )
