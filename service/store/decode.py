"""Stored documents into typed records: the one place that reads the storage layout."""

from __future__ import annotations

from service.domain.records import (
    AnswerRecord,
    CustomerRecord,
    JourneyRecord,
    RecordRef,
    StageRecord,
    SurveyResponseRecord,
    TouchpointRecord,
)
from service.store.client import Doc
from service.store.fieldnames import decode_keys


def ref(doc: Doc) -> RecordRef:
    return RecordRef(source=doc["source"], external_id=doc["externalId"])


def journey(doc: Doc) -> JourneyRecord:
    stages = tuple(
        StageRecord(key=s["key"], name=s["name"], phase=s["phase"], order=s["order"])
        for s in doc["stages"]
    )
    return JourneyRecord(key=doc["key"], name=doc["name"], stages=stages)


def customer(doc: Doc) -> CustomerRecord:
    return CustomerRecord(
        id=doc["_id"],
        ref=ref(doc),
        stub=bool(doc.get("stub")),
        name=doc.get("name"),
        email=doc.get("email"),
        segments=tuple(doc.get("segments") or ()),
        attributes=decode_keys(doc.get("attributes") or {}),
        signed_up_at=doc.get("signedUpAt"),
        churned_at=doc.get("churnedAt"),
        revenue=doc.get("revenue"),
    )


def touchpoint(doc: Doc) -> TouchpointRecord:
    return TouchpointRecord(
        id=doc["_id"],
        ref=ref(doc),
        customer_id=doc["customerId"],
        customer_ref=ref(doc["customerRef"]),
        segments=tuple(doc.get("segments") or ()),
        journey=doc.get("journey"),
        stage=doc.get("stage"),
        channel=doc["channel"],
        kind=doc["kind"],
        occurred_at=doc["occurredAt"],
        case_id=doc.get("caseId"),
        resolved=doc.get("resolved"),
        component=doc.get("component"),
    )


def answer(doc: Doc) -> AnswerRecord:
    return AnswerRecord(
        question=doc["question"],
        metric=doc["metric"],
        value=doc["value"],
        scale_min=doc["scale"]["min"],
        scale_max=doc["scale"]["max"],
        component=doc.get("component"),
        high_is_easy=doc.get("highIsEasy") is not False,
    )


def survey_response(doc: Doc) -> SurveyResponseRecord:
    tp_ref = doc.get("touchpointRef")
    return SurveyResponseRecord(
        id=doc["_id"],
        ref=ref(doc),
        customer_id=doc["customerId"],
        customer_ref=ref(doc["customerRef"]),
        touchpoint_id=doc.get("touchpointId"),
        touchpoint_ref=ref(tp_ref) if tp_ref else None,
        segments=tuple(doc.get("segments") or ()),
        journey=doc.get("journey"),
        stage=doc.get("stage"),
        channel=doc.get("channel"),
        submitted_at=doc["submittedAt"],
        answers=tuple(answer(a) for a in doc["answers"]),
        comment=doc.get("comment"),
    )
