"""Field checks shared by every record type.

Records arrive as plain mappings (from GraphQL inputs or NDJSON lines) with the GraphQL field
names. Each check either returns the normalised value or raises :class:`RecordInvalid`
naming the field, so a record fails on its first problem with a code the client can act on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from service.domain.dates import impossible_date
from service.domain.ingest import codes


@dataclass(frozen=True)
class RecordError:
    code: str
    field: str | None
    message: str


class RecordInvalid(Exception):
    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.error = RecordError(code=code, field=field, message=message)


@dataclass(frozen=True)
class Limits:
    max_string: int
    max_comment: int
    max_attributes_bytes: int
    max_segments: int = 32
    max_answers: int = 50
    max_stages: int = 50


_MISSING = object()


def reject_unknown(record: Mapping[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    for key in record:
        if key not in allowed:
            raise RecordInvalid(
                codes.UNKNOWN_FIELD, f"{prefix}{key}", f"unknown field {prefix}{key!s}"
            )


def _get(record: Mapping[str, Any], field: str) -> Any:
    value = record.get(field, _MISSING)
    return None if value is _MISSING else value


def _present(record: Mapping[str, Any], field: str, name: str, required: bool) -> Any:
    """The field's value, None when absent or null; absent and required is REQUIRED."""
    value = _get(record, field)
    if value is None and required:
        raise RecordInvalid(codes.REQUIRED, name, f"{name} is required")
    return value


def string(
    record: Mapping[str, Any], field: str, limit: int, *, required: bool, path: str = ""
) -> str | None:
    name = path + field
    value = _present(record, field, name, required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be a string")
    if required and not value.strip():
        raise RecordInvalid(codes.REQUIRED, name, f"{name} must not be empty")
    if len(value) > limit:
        raise RecordInvalid(
            codes.STRING_TOO_LONG, name, f"{name} is {len(value)} characters; the limit is {limit}"
        )
    return value


def enum_value(
    record: Mapping[str, Any],
    field: str,
    allowed: frozenset[str],
    *,
    required: bool,
    path: str = "",
) -> str | None:
    name = path + field
    value = _present(record, field, name, required)
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if not isinstance(value, str) or value not in allowed:
        raise RecordInvalid(
            codes.INVALID_ENUM, name, f"{name} must be one of {', '.join(sorted(allowed))}"
        )
    return value


def timestamp(
    record: Mapping[str, Any], field: str, *, required: bool, path: str = ""
) -> datetime | None:
    """An instant with an explicit UTC offset, returned in UTC (Mongo keeps milliseconds)."""
    name = path + field
    value = _present(record, field, name, required)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            impossible = impossible_date(value)
            message = (
                f"{name}: {impossible}" if impossible else f"{name} is not an ISO-8601 timestamp"
            )
            raise RecordInvalid(codes.INVALID_TIMESTAMP, name, message) from None
    if not isinstance(value, datetime):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be an ISO-8601 timestamp")
    if value.tzinfo is None or value.utcoffset() is None:
        raise RecordInvalid(
            codes.MISSING_UTC_OFFSET,
            name,
            f"{name} has no UTC offset; send e.g. 2026-01-31T09:30:00Z or +03:30",
        )
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def number(
    record: Mapping[str, Any], field: str, *, required: bool, path: str = ""
) -> float | None:
    name = path + field
    value = _present(record, field, name, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be a number")
    if not math.isfinite(value):
        raise RecordInvalid(codes.INVALID_VALUE, name, f"{name} must be a finite number")
    return float(value)


def integer(record: Mapping[str, Any], field: str, *, path: str = "") -> int:
    name = path + field
    value = _present(record, field, name, required=True)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be an integer")
    if not math.isfinite(value) or value != int(value):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be an integer")
    return int(value)


def boolean(record: Mapping[str, Any], field: str, *, path: str = "") -> bool | None:
    value = _get(record, field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise RecordInvalid(codes.WRONG_TYPE, path + field, f"{path}{field} must be a boolean")
    return value


def mapping(record: Mapping[str, Any], field: str, *, required: bool, path: str = "") -> Any:
    name = path + field
    value = _present(record, field, name, required)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be an object")
    return value


def sequence(
    record: Mapping[str, Any], field: str, limit: int, *, required: bool, path: str = ""
) -> Sequence[Any]:
    name = path + field
    value = _present(record, field, name, required)
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be a list")
    if len(value) > limit:
        raise RecordInvalid(
            codes.TOO_MANY_ITEMS, name, f"{name} has {len(value)} items; the limit is {limit}"
        )
    items: Sequence[Any] = value
    return items


def string_list(
    record: Mapping[str, Any], field: str, limits: Limits, item_limit: int
) -> list[str]:
    values = sequence(record, field, limits.max_segments, required=False)
    out: list[str] = []
    for i, value in enumerate(values):
        name = f"{field}[{i}]"
        if not isinstance(value, str):
            raise RecordInvalid(codes.WRONG_TYPE, name, f"{name} must be a string")
        if not value.strip():
            raise RecordInvalid(codes.REQUIRED, name, f"{name} must not be empty")
        if len(value) > item_limit:
            raise RecordInvalid(
                codes.STRING_TOO_LONG, name, f"{name} is longer than {item_limit} characters"
            )
        out.append(value)
    return sorted(set(out))


def json_map(record: Mapping[str, Any], field: str, limit_bytes: int) -> dict[str, Any]:
    """A free JSON object, bounded by its encoded size."""
    value = mapping(record, field, required=False)
    if value is None:
        return {}
    try:
        encoded = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise RecordInvalid(codes.INVALID_VALUE, field, f"{field} must be plain JSON") from None
    size = len(encoded.encode())
    if size > limit_bytes:
        raise RecordInvalid(
            codes.ATTRIBUTES_TOO_LARGE,
            field,
            f"{field} is {size} bytes as JSON; "
            f"the limit is {limit_bytes} (CX_MAX_ATTRIBUTES_BYTES)",
        )
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded
