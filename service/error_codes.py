"""Every GraphQL error leaves with an ``extensions.code``; internal ones are masked.

- our own errors (:class:`~service.errors.CxError`) pass as they are;
- errors graphql-core raises for the request itself (syntax, validation, variable coercion)
  are the client's: GRAPHQL_PARSE_FAILED for syntax, BAD_USER_INPUT otherwise;
- a database that does not answer becomes UNAVAILABLE, so clients know to retry;
- anything else is logged with its traceback and masked as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging

from graphql import GraphQLError
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

from service.errors import CxError

log = logging.getLogger("cxgraph.errors")

UNAVAILABLE_ERRORS = (ConnectionFailure, ServerSelectionTimeoutError)


def is_client_error(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError)


def with_code(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    extensions = error.extensions or {}
    if isinstance(original, CxError) or extensions.get("code"):
        return error
    if is_client_error(error):
        syntax = error.message.startswith("Syntax Error")
        code = "GRAPHQL_PARSE_FAILED" if syntax else "BAD_USER_INPUT"
        return GraphQLError(
            error.message, nodes=error.nodes, source=error.source, positions=error.positions,
            path=error.path, extensions={**extensions, "code": code},
        )  # fmt: skip
    if isinstance(original, UNAVAILABLE_ERRORS):
        message, code = "the database is unavailable; retry shortly", "UNAVAILABLE"
    else:
        message, code = "Unexpected error.", "INTERNAL_SERVER_ERROR"
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions={"code": code})


def log_errors(errors: list[GraphQLError]) -> None:
    """Log what is ours to fix; a client's mistake is answered, not logged as an error."""
    for error in errors:
        original = error.original_error
        if isinstance(original, CxError) or is_client_error(error):
            continue
        if isinstance(original, UNAVAILABLE_ERRORS):
            log.warning("database unavailable: %s", original)
        else:
            log.error("unexpected error in %s", error.path, exc_info=original)
