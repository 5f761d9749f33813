"""Keyset pagination with opaque cursors.

A cursor encodes the sort key and ``_id`` of the last row a client saw; the next page is the
rows strictly after it, so inserts between pages never repeat or skip a row already passed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.errors import BadUserInput
from service.store.client import Doc, to_list


@dataclass(frozen=True)
class Page:
    rows: list[Doc]
    cursors: list[str]
    has_next: bool
    has_previous: bool


def _encode(sort_value: Any, doc_id: str) -> str:
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    raw = json.dumps([value, doc_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort_field: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, doc_id = json.loads(raw)
        if not isinstance(doc_id, str):
            raise ValueError
        if sort_field != "_id":
            value = datetime.fromisoformat(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput("invalid cursor: pass an endCursor this API returned",
                           reason="INVALID_CURSOR") from None  # fmt: skip
    return value, doc_id


def page_size(first: int | None, default: int, maximum: int) -> int:
    if first is None:
        return default
    if first < 1 or first > maximum:
        raise BadUserInput(
            f"first must be between 1 and {maximum} (CX_MAX_PAGE_SIZE); got {first}",
            reason="INVALID_PAGE_SIZE",
            maximum=maximum,
        )
    return first


async def paginate(
    collection: Any, query: Doc, sort_field: str, first: int, after: str | None
) -> Page:
    conditions = [query]
    if after:
        value, doc_id = _decode(after, sort_field)
        if sort_field == "_id":
            conditions.append({"_id": {"$gt": doc_id}})
        else:
            conditions.append({"$or": [
                {sort_field: {"$gt": value}}, {sort_field: value, "_id": {"$gt": doc_id}}
            ]})  # fmt: skip
    find = conditions[0] if len(conditions) == 1 else {"$and": conditions}
    sort = [("_id", 1)] if sort_field == "_id" else [(sort_field, 1), ("_id", 1)]
    rows = await to_list(collection.find(find).sort(sort).limit(first + 1))
    has_next = len(rows) > first
    rows = rows[:first]
    cursors = [_encode(r.get(sort_field), r["_id"]) for r in rows]
    return Page(rows=rows, cursors=cursors, has_next=has_next, has_previous=after is not None)
