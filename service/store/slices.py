"""A time-ordered page read in growing time slices.

The embedded database never stops a scan at a query's ``$limit``: a page costs every row in
its index range, so a page after a cursor near the start of 40,000 touchpoints read ~39,500
of them. Reading the range in slices from the page's edge — one day, then two, four, … —
stops as soon as a page is full, so a page costs about the rows it returns. On MongoDB each
slice is a bounded index scan with its own limit. The last slice is open-ended, so rows
however far away are still found.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.store.client import Doc, aggregate

FIRST_SLICE = timedelta(days=1)
# Past this span the next slice runs to the range's end: at most ~13 slices find nothing.
WIDEST_SLICE = timedelta(days=3660)


def _slice_match(match: Doc, field: str, bounds: Doc) -> Doc:
    out = {k: v for k, v in match.items() if k != field}
    if bounds:
        out[field] = bounds
    return out


async def read_in_slices(
    collection: Any,
    match: Doc,
    rest: Doc,
    field: str,
    limit: int,
    *,
    descending: bool,
) -> list[Doc]:
    """Up to ``limit`` rows matching ``match`` and ``rest`` in (``field``, ``_id``) order.

    ``match`` is what one index serves; its range on ``field`` (``$gte`` and/or ``$lt``, as
    service/store/pagination.py writes it) is where the slices are cut.
    """
    bounds: Doc = dict(match.get(field) or {})
    low, high = bounds.get("$gte"), bounds.get("$lt")
    direction = -1 if descending else 1
    sort = {field: direction, "_id": direction}
    rows: list[Doc] = []
    span = FIRST_SLICE
    if descending:
        # Newest first from the range's end, or from now (the first slice is open above, so
        # rows stamped in the future come first).
        top, open_top = (high, False) if high is not None else (datetime.now(UTC), True)
        while True:
            bottom = top - span
            last = span > WIDEST_SLICE or (low is not None and bottom <= low)
            cut: Doc = {} if open_top else {"$lt": top}
            if not last:
                cut["$gte"] = bottom
            elif low is not None:
                cut["$gte"] = low
            rows += await _slice(collection, _slice_match(match, field, cut), rest, sort,
                                 limit - len(rows))  # fmt: skip
            if len(rows) >= limit or last:
                return rows
            top, open_top, span = bottom, False, span * 2
    if low is None:  # where the range starts is unknown: one read of all of it
        return await _slice(collection, match, rest, sort, limit)
    start = low
    while True:
        end = start + span
        last = span > WIDEST_SLICE or (high is not None and end >= high)
        cut = {"$gte": start}
        if not last:
            cut["$lt"] = end
        elif high is not None:
            cut["$lt"] = high
        rows += await _slice(collection, _slice_match(match, field, cut), rest, sort,
                             limit - len(rows))  # fmt: skip
        if len(rows) >= limit or last:
            return rows
        start, span = end, span * 2


async def _slice(collection: Any, match: Doc, rest: Doc, sort: Doc, limit: int) -> list[Doc]:
    stages: list[Doc] = [{"$match": match}]
    if rest:
        stages.append({"$match": rest})
    return await aggregate(collection, [*stages, {"$sort": sort}, {"$limit": limit}])
