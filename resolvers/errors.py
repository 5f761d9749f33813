"""Every GraphQL error leaves with an ``extensions.code``; internal ones are masked.

- our own errors (:class:`~service.domain.errors.CxError`) pass as they are;
- errors graphql-core raises for the request itself (syntax, validation, variable coercion)
  are the client's: GRAPHQL_PARSE_FAILED for syntax, BAD_USER_INPUT otherwise;
- a database that does not answer becomes UNAVAILABLE, so clients know to retry;
- an operation that outlived its budget while the database answered is TIMEOUT (our own
  :class:`~service.domain.errors.OperationTimeout` names the budget; a single read that outlived
  the socket timeout is named here);
- anything else is logged with its traceback and masked as INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging
import re

from graphql import GraphQLError

from service.domain.errors import CxError
from service.store.client import UNAVAILABLE_ERRORS, is_timeout

log = logging.getLogger("cxgraph.errors")


def is_client_error(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, GraphQLError | CxError)


def from_domain(error: CxError, at: GraphQLError | None = None) -> GraphQLError:
    """The GraphQL form of a domain error: its message and extensions (``code`` first)."""
    if at is None:
        return GraphQLError(error.message, extensions=error.extensions, original_error=error)
    return GraphQLError(error.message, nodes=at.nodes, source=at.source,
                        positions=at.positions, path=at.path, original_error=error,
                        extensions=error.extensions)  # fmt: skip


def timed_out(error: GraphQLError) -> bool:
    """A raw driver timeout: the caller asks the database whether it still answers."""
    return error.original_error is not None and is_timeout(error.original_error)


_SUGGESTION = re.compile(r"\s*Did you mean .*\?$")


def with_code(
    error: GraphQLError,
    database_answers: bool = False,
    request_id: str | None = None,
    production: bool = False,
) -> GraphQLError:
    """``database_answers``: the database answered a ping after this request's timeouts.
    ``production``: no "Did you mean ...?" suggestions, which would reveal the schema."""
    if production and _SUGGESTION.search(error.message):
        error = GraphQLError(_SUGGESTION.sub("", error.message), nodes=error.nodes,
                             source=error.source, positions=error.positions, path=error.path,
                             original_error=error.original_error,
                             extensions=error.extensions)  # fmt: skip
    original = error.original_error
    extensions = error.extensions or {}
    if isinstance(original, CxError):
        return from_domain(original, error)
    if extensions.get("code"):
        return error
    if is_client_error(error):
        syntax = error.message.startswith("Syntax Error")
        code = "GRAPHQL_PARSE_FAILED" if syntax else "BAD_USER_INPUT"
        return GraphQLError(
            error.message, nodes=error.nodes, source=error.source, positions=error.positions,
            path=error.path, extensions={**extensions, "code": code},
        )  # fmt: skip
    if original is not None and is_timeout(original) and database_answers:
        message = ("a database operation took longer than its budget "
                   "(CX_MONGO_SOCKET_TIMEOUT_S); retry, or narrow the query")  # fmt: skip
        extensions = {"code": "TIMEOUT", "setting": "CX_MONGO_SOCKET_TIMEOUT_S"}
        return GraphQLError(message, nodes=error.nodes, path=error.path, extensions=extensions)
    if isinstance(original, UNAVAILABLE_ERRORS):
        message, code = "the database is unavailable; retry shortly", "UNAVAILABLE"
    else:
        message, code = "Unexpected error.", "INTERNAL_SERVER_ERROR"
        if request_id:  # the same id as the log line with the traceback
            message = f"internal error (request id {request_id})"
            return GraphQLError(message, nodes=error.nodes, path=error.path,
                                extensions={"code": code, "requestId": request_id})  # fmt: skip
    return GraphQLError(message, nodes=error.nodes, path=error.path, extensions={"code": code})


def log_errors(errors: list[GraphQLError], request_id: str | None = None) -> None:
    """Log what is ours to fix; a client's mistake is answered, not logged as an error."""
    for error in errors:
        original = error.original_error
        if isinstance(original, CxError) and (original.extensions or {}).get("code") == "TIMEOUT":
            log.warning("timeout at %s: %s", error.path, original.message)
            continue
        if isinstance(original, CxError) or is_client_error(error):
            continue
        if original is not None and is_timeout(original):
            log.warning("database operation timed out at %s: %s", error.path, original)
        elif isinstance(original, UNAVAILABLE_ERRORS):
            log.warning("database unavailable: %s", original)
        else:
            log.error("unexpected error in %s (request id %s)", error.path, request_id,
                      exc_info=original)  # fmt: skip
