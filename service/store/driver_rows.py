"""The survey responses a key-driver analysis reads: one aggregation, bounded in size.

Only responses that answered the outcome are read (``answers.metric`` equal to its family),
in the window and the filter's segments, journeys, stages and channels, each bound as a
value (``$in`` of typed strings, never an operator from input). Only the answers' metric,
component, value, scale and direction are projected, plus the record key that orders the
rows.
"""

from __future__ import annotations

from service.domain.metrics.cells import CellFilter
from service.domain.metrics.driver_results import RatedAnswer, RatedResponse, TooManyResponses
from service.domain.metrics.timeframe import Window
from service.store.client import Doc, Mongo, aggregate
from service.store.indexes import SURVEY_RESPONSES
from service.store.survey_cells import response_match

PROJECTION = {"_id": 0, "submittedAt": 1, "source": 1, "externalId": 1, "answers.metric": 1,
              "answers.component": 1, "answers.value": 1, "answers.scale": 1,
              "answers.highIsEasy": 1}  # fmt: skip


def pipeline(tenant: str, window: Window, flt: CellFilter, family: str, limit: int) -> list[Doc]:
    """Two ``$match`` stages: the first is (tenant, submittedAt range) alone, which the time
    index serves; SecantusDB's planner scans the whole collection as soon as one ``$match``
    holds any other condition. MongoDB merges the two."""
    whole = response_match(tenant, window, flt)
    indexed = {"tenant": whole.pop("tenant"), "submittedAt": whole.pop("submittedAt")}
    return [
        {"$match": indexed},
        {"$match": {**whole, "answers.metric": family}},
        {"$project": PROJECTION},
        {"$limit": limit + 1},
    ]


async def responses(
    mongo: Mongo, tenant: str, window: Window, flt: CellFilter, family: str, limit: int
) -> list[RatedResponse]:
    """The answers of each response in ``window`` matching ``flt`` that answered ``family``,
    in a stable order (submittedAt, source, externalId); more than ``limit`` responses is
    TooManyResponses. Run it inside Mongo.budget: one large read may rightly outlast the
    socket timeout."""
    docs = await aggregate(mongo[SURVEY_RESPONSES], pipeline(tenant, window, flt, family, limit))
    if len(docs) > limit:
        raise TooManyResponses(limit)
    docs.sort(key=lambda d: (d["submittedAt"], d["source"], d["externalId"]))
    return [_answers(d) for d in docs]


def _answers(doc: Doc) -> RatedResponse:
    return tuple(
        RatedAnswer(
            metric=a["metric"],
            component=a.get("component"),
            value=float(a["value"]),
            scale=(int(a["scale"]["min"]), int(a["scale"]["max"])),
            high_is_easy=a.get("highIsEasy") is not False,
        )
        for a in doc.get("answers") or ()
    )
