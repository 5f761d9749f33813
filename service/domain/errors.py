"""Errors a client can act on. Each carries a stable code, plain exceptions of the domain.

They know nothing of GraphQL: resolvers/errors.py turns them into GraphQL errors with
``extensions.code`` (and the HTTP edge into the same JSON shape), in one place each.
"""

from __future__ import annotations

from typing import Any


class CxError(Exception):
    """A user-facing error; never masked. ``extensions`` always holds ``code``."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, code: str | None = None, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": code or self.code, **extensions}


class BadUserInput(CxError):
    code = "BAD_USER_INPUT"


class BatchTooLarge(CxError):
    code = "BATCH_TOO_LARGE"

    def __init__(self, received: int, limit: int) -> None:
        super().__init__(
            f"batch of {received} records is larger than the limit of {limit} (CX_MAX_BATCH); "
            "nothing was stored: split it into batches of at most {limit}".replace(
                "{limit}", str(limit)
            ),
            received=received,
            limit=limit,
            category="BAD_USER_INPUT",
        )


class NotFound(CxError):
    code = "NOT_FOUND"


class Unavailable(CxError):
    code = "UNAVAILABLE"


class OperationTimeout(CxError):
    """An operation outlived its time budget while the database was answering."""

    code = "TIMEOUT"

    def __init__(self, operation: str, budget_s: float, setting: str) -> None:
        super().__init__(
            f"{operation} took longer than its budget of {budget_s:g} s ({setting}); "
            "retry, narrow the window or filter, or raise the setting",
            operation=operation,
            budgetSeconds=budget_s,
            setting=setting,
        )
