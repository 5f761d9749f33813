"""The survey responses a key-driver analysis reads: one find, bounded in size.

Only responses that answered the outcome are read (``answers.metric`` equal to its family),
in the window and the filter's segments, journeys, stages and channels, each bound as a
value (``$in`` of typed strings, never an operator from input). Only the answers' metric,
component, value and scale are projected, plus the record key that orders the rows.
"""

from __future__ import annotations

from typing import Any

from service.errors import CxError
from service.metrics.cells import CellFilter
from service.metrics.timeframe import Window
from service.store.client import Doc, Mongo, to_list
from service.store.indexes import SURVEY_RESPONSES
from service.store.survey_cells import _response_match

PROJECTION = {"_id": 0, "submittedAt": 1, "source": 1, "externalId": 1, "answers.metric": 1,
              "answers.component": 1, "answers.value": 1, "answers.scale": 1}  # fmt: skip


class TooManyResponses(CxError):
    code = "TOO_MANY_RESPONSES"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"more than {limit} survey responses answer the outcome in this window and filter "
            "(CX_DRIVERS_MAX_RESPONSES); narrow the window or the filter, or raise the setting",
            limit=limit,
            setting="CX_DRIVERS_MAX_RESPONSES",
        )


async def responses(
    mongo: Mongo, tenant: str, window: Window, flt: CellFilter, family: str, limit: int
) -> list[Doc]:
    """The responses in ``window`` matching ``flt`` that answered ``family``, in a stable
    order (submittedAt, source, externalId); more than ``limit`` is TooManyResponses."""
    query: dict[str, Any] = {**_response_match(tenant, window, flt), "answers.metric": family}
    # Run it inside Mongo.budget: a find on SecantusDB builds its whole result before the
    # first batch, so the query budget, not the socket timeout, must apply.
    docs = await to_list(mongo[SURVEY_RESPONSES].find(query, PROJECTION).limit(limit + 1))
    if len(docs) > limit:
        raise TooManyResponses(limit)
    docs.sort(key=lambda d: (d["submittedAt"], d["source"], d["externalId"]))
    return docs
