"""Keyset pagination with opaque cursors.

A cursor encodes the sort key and ``_id`` of the last row a client saw; the next page is the
rows strictly after it, so inserts between pages never repeat or skip a row already passed.

A page is one pipeline: a leading ``$match`` that an index serves alone (equalities and one
range, the cursor's bound folded into that range), then a ``$match`` with everything else.
A single ``$or`` over "later time, or same time and later ``_id``" reads the whole collection
on a planner that cannot split it (the embedded database), so the tie-break rides in the
second stage instead, where it only ever sees rows already bounded by the index.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from service.domain.errors import BadUserInput
from service.domain.records import Page
from service.store.client import Doc, aggregate
from service.store.slices import read_in_slices

Row = TypeVar("Row")


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
            if value.tzinfo is None:
                raise ValueError
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


def _at_least(bounds: Doc | None, value: Any) -> Doc:
    """``bounds`` narrowed to values >= ``value`` (the tighter lower bound wins)."""
    out = dict(bounds or {})
    if "$gte" not in out or out["$gte"] < value:
        out["$gte"] = value
    return out


def _at_most(bounds: Doc | None, value: datetime) -> Doc:
    """``bounds`` narrowed to times <= ``value``, written as < ``value`` + 1 ms: BSON dates
    have millisecond resolution, so the two are the same set, and the embedded database's
    range scan drops the rows equal to an inclusive upper bound on a compound index whose
    key goes on past the time field."""
    out = dict(bounds or {})
    below = value + timedelta(milliseconds=1)
    if "$lt" not in out or out["$lt"] > below:
        out["$lt"] = below
    return out


def _page_parts(
    indexed: Doc, sort_field: str, after: str | None, residual: Doc | None, descending: bool
) -> tuple[Doc, Doc]:
    first_match, rest = dict(indexed), dict(residual or {})
    if after:
        value, doc_id = _decode(after, sort_field)
        if sort_field == "_id":
            first_match["_id"] = {"$lt" if descending else "$gt": doc_id}
        else:
            narrow = _at_most if descending else _at_least
            first_match[sort_field] = narrow(first_match.get(sort_field), value)
            # Rows at the cursor's own instant that the client has already seen.
            rest["$or"] = [{sort_field: {"$ne": value}},
                           {"_id": {"$lt" if descending else "$gt": doc_id}}]  # fmt: skip
    return first_match, rest


def page_pipeline(
    indexed: Doc,
    sort_field: str,
    size: int,
    after: str | None,
    *,
    residual: Doc | None = None,
    descending: bool = False,
) -> list[Doc]:
    """The pipeline of one page: ``indexed`` must be what one index serves (bare equalities
    and at most a range on ``sort_field``); ``residual`` holds every other condition."""
    first_match, rest = _page_parts(indexed, sort_field, after, residual, descending)
    direction = -1 if descending else 1
    sort = {"_id": direction} if sort_field == "_id" else {sort_field: direction, "_id": direction}
    stages: list[Doc] = [{"$match": first_match}]
    if rest:
        stages.append({"$match": rest})
    return [*stages, {"$sort": sort}, {"$limit": size + 1}]


async def paginate(
    collection: Any,
    indexed: Doc,
    sort_field: str,
    first: int,
    after: str | None,
    to_row: Callable[[Doc], Row],
    *,
    residual: Doc | None = None,
    descending: bool = False,
    in_slices: bool = False,
) -> Page[Row]:
    """One page; ``in_slices`` reads a time-ordered range slice by slice (service/store/
    slices.py), for ranges that may hold far more rows than a page."""
    if in_slices and sort_field != "_id":
        first_match, rest = _page_parts(indexed, sort_field, after, residual, descending)
        rows = await read_in_slices(collection, first_match, rest, sort_field, first + 1,
                                    descending=descending)  # fmt: skip
    else:
        pipeline = page_pipeline(indexed, sort_field, first, after,
                                 residual=residual, descending=descending)  # fmt: skip
        rows = await aggregate(collection, pipeline)
    has_next = len(rows) > first
    rows = rows[:first]
    cursors = [_encode(r.get(sort_field), r["_id"]) for r in rows]
    return Page(rows=[to_row(r) for r in rows], cursors=cursors, has_next=has_next,
                has_previous=after is not None)  # fmt: skip
