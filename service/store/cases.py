"""Support cases from touchpoints: every contact of each case active in a window."""

from __future__ import annotations

from service.domain.metrics.timeframe import Window
from service.domain.records import Contact
from service.store.client import Doc, Mongo, aggregate, to_list
from service.store.indexes import TOUCHPOINTS


async def contacts_of_cases_in(mongo: Mongo, tenant: str, window: Window) -> list[Contact]:
    """All contacts (all time) of the cases with a contact in the window, oldest first."""
    ids = await aggregate(mongo[TOUCHPOINTS], [
        {"$match": {"tenant": tenant, "caseId": {"$type": "string"},
                    "occurredAt": {"$gte": window.start, "$lt": window.end}}},
        {"$group": {"_id": "$caseId"}},
    ], timeout_s=mongo.query_timeout_s)  # fmt: skip
    if not ids:
        return []
    docs = await to_list(
        mongo[TOUCHPOINTS]
        .find(
            {"tenant": tenant, "caseId": {"$in": [i["_id"] for i in ids]}},
            {"caseId": 1, "occurredAt": 1, "resolved": 1, "segments": 1, "journey": 1,
             "stage": 1, "channel": 1, "component": 1},
        )
        .sort([("occurredAt", 1), ("_id", 1)])
    )  # fmt: skip
    return [_contact(d) for d in docs]


def _contact(doc: Doc) -> Contact:
    return Contact(
        case_id=doc["caseId"],
        occurred_at=doc["occurredAt"],
        resolved=doc.get("resolved"),
        segments=tuple(doc.get("segments") or ()),
        journey=doc.get("journey"),
        stage=doc.get("stage"),
        channel=doc.get("channel"),
        component=doc.get("component"),
    )
