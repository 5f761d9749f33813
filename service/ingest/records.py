"""Validation of each record type into the fields we store.

Each ``validate_*`` takes one record as a mapping with the GraphQL field names and returns its
normalised content (the part that decides whether a resend is UNCHANGED), or raises
:class:`~service.domain.ingest.checks.RecordInvalid`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.ingest import codes
from service.domain.ingest.checks import (
    Limits,
    RecordInvalid,
    boolean,
    enum_value,
    integer,
    json_map,
    mapping,
    number,
    reject_unknown,
    sequence,
    string,
    string_list,
    timestamp,
)
from service.domain.model import AnswerMetric, Channel, Component, Phase, values
from service.store.fieldnames import encode_keys

KEY_LENGTH = 128  # source, externalId, journey and stage keys, case ids
SEGMENT_LENGTH = 64

CHANNELS = values(Channel)
COMPONENTS = values(Component)
ANSWER_METRICS = values(AnswerMetric)
PHASES = values(Phase)

CUSTOMER_FIELDS = frozenset(
    {"source", "externalId", "name", "email", "segments", "attributes", "signedUpAt",
     "churnedAt", "revenue"}
)  # fmt: skip
TOUCHPOINT_FIELDS = frozenset(
    {"source", "externalId", "customer", "journey", "stage", "channel", "kind", "occurredAt",
     "caseId", "resolved", "component"}
)  # fmt: skip
RESPONSE_FIELDS = frozenset(
    {"source", "externalId", "customer", "touchpoint", "journey", "stage", "channel",
     "submittedAt", "answers", "comment"}
)  # fmt: skip
ANSWER_FIELDS = frozenset(
    {"question", "metric", "value", "scaleMin", "scaleMax", "component", "highIsEasy"}
)
REF_FIELDS = frozenset({"source", "externalId"})
JOURNEY_FIELDS = frozenset({"key", "name", "stages"})
STAGE_FIELDS = frozenset({"key", "name", "phase"})


@dataclass(frozen=True)
class RecordKey:
    source: str
    external_id: str


JourneyStages = Mapping[str, frozenset[str]]  # journey key -> its stage keys


def record_key(record: Mapping[str, Any], path: str = "") -> RecordKey:
    source = string(record, "source", KEY_LENGTH, required=True, path=path)
    external_id = string(record, "externalId", KEY_LENGTH, required=True, path=path)
    assert source is not None and external_id is not None
    return RecordKey(source, external_id)


def _ref(record: Mapping[str, Any], field: str, *, required: bool) -> RecordKey | None:
    ref = mapping(record, field, required=required)
    if ref is None:
        return None
    reject_unknown(ref, REF_FIELDS, prefix=f"{field}.")
    return record_key(ref, path=f"{field}.")


def _journey_stage(
    record: Mapping[str, Any], journeys: JourneyStages
) -> tuple[str | None, str | None]:
    journey = string(record, "journey", KEY_LENGTH, required=False)
    stage = string(record, "stage", KEY_LENGTH, required=False)
    if journey is None:
        if stage is not None:
            raise RecordInvalid(
                codes.STAGE_WITHOUT_JOURNEY, "stage", "stage needs the journey it belongs to"
            )
        return None, None
    stages = journeys.get(journey)
    if stages is None:
        raise RecordInvalid(
            codes.UNKNOWN_JOURNEY,
            "journey",
            f"unknown journey {journey!r}; define it first with defineJourney",
        )
    if stage is not None and stage not in stages:
        raise RecordInvalid(
            codes.UNKNOWN_STAGE, "stage", f"journey {journey!r} has no stage {stage!r}"
        )
    return journey, stage


def validate_customer(record: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    reject_unknown(record, CUSTOMER_FIELDS)
    record_key(record)
    revenue = number(record, "revenue", required=False)
    if revenue is not None and revenue < 0:
        raise RecordInvalid(codes.NEGATIVE_VALUE, "revenue", "revenue must not be negative")
    signed_up = timestamp(record, "signedUpAt", required=False)
    churned = timestamp(record, "churnedAt", required=False)
    if signed_up and churned and churned < signed_up:
        raise RecordInvalid(codes.INVALID_VALUE, "churnedAt", "churnedAt is before signedUpAt")
    return {
        "name": string(record, "name", limits.max_string, required=False),
        "email": string(record, "email", 320, required=False),
        "segments": string_list(record, "segments", limits, SEGMENT_LENGTH),
        "attributes": encode_keys(json_map(record, "attributes", limits.max_attributes_bytes)),
        "signedUpAt": signed_up,
        "churnedAt": churned,
        "revenue": revenue,
    }


def validate_touchpoint(
    record: Mapping[str, Any], limits: Limits, journeys: JourneyStages
) -> tuple[dict[str, Any], RecordKey]:
    reject_unknown(record, TOUCHPOINT_FIELDS)
    record_key(record)
    customer = _ref(record, "customer", required=True)
    assert customer is not None
    journey, stage = _journey_stage(record, journeys)
    content = {
        "customerRef": {"source": customer.source, "externalId": customer.external_id},
        "journey": journey,
        "stage": stage,
        "channel": enum_value(record, "channel", CHANNELS, required=True),
        "kind": string(record, "kind", limits.max_string, required=True),
        "occurredAt": timestamp(record, "occurredAt", required=True),
        "caseId": string(record, "caseId", KEY_LENGTH, required=False),
        "resolved": boolean(record, "resolved"),
        "component": enum_value(record, "component", COMPONENTS, required=False),
    }
    return content, customer


def _answer(answer: Any, index: int) -> dict[str, Any]:
    path = f"answers[{index}]."
    if not isinstance(answer, Mapping):
        raise RecordInvalid(codes.WRONG_TYPE, path[:-1], f"{path[:-1]} must be an object")
    reject_unknown(answer, ANSWER_FIELDS, prefix=path)
    question = string(answer, "question", KEY_LENGTH * 2, required=True, path=path)
    metric = enum_value(answer, "metric", ANSWER_METRICS, required=True, path=path)
    value = number(answer, "value", required=True, path=path)
    low = integer(answer, "scaleMin", path=path)
    high = integer(answer, "scaleMax", path=path)
    component = enum_value(answer, "component", COMPONENTS, required=False, path=path)
    high_is_easy = boolean(answer, "highIsEasy", path=path)
    assert value is not None
    if low >= high:
        raise RecordInvalid(
            codes.INVALID_SCALE, f"{path}scaleMax", f"scaleMin {low} must be below scaleMax {high}"
        )
    if metric == AnswerMetric.NPS.value and (low, high) != (0, 10):
        raise RecordInvalid(
            codes.INVALID_NPS_SCALE,
            f"{path}scaleMin",
            f"an NPS answer is on the 0-10 scale, not {low}-{high}",
        )
    if not low <= value <= high:
        raise RecordInvalid(
            codes.VALUE_OUT_OF_SCALE,
            f"{path}value",
            f"value {value:g} is outside the scale {low}-{high}",
        )
    if metric == AnswerMetric.COMPONENT.value and component is None:
        raise RecordInvalid(
            codes.MISSING_COMPONENT, f"{path}component", "a COMPONENT answer needs its component"
        )
    if high_is_easy is False and metric != AnswerMetric.CES.value:
        raise RecordInvalid(
            codes.INVALID_DIRECTION,
            f"{path}highIsEasy",
            f"highIsEasy false (a high value means hard) applies to CES answers, not {metric}",
        )
    content = {
        "question": question,
        "metric": metric,
        "value": int(value) if value.is_integer() else value,
        "scale": {"min": low, "max": high},
        "component": component,
    }
    # Stored only when false: an answer without it (or sent true) means high = easy, and a
    # record stored before the field existed stays UNCHANGED when sent again.
    if high_is_easy is False:
        content["highIsEasy"] = False
    return content


def validate_response(
    record: Mapping[str, Any], limits: Limits, journeys: JourneyStages
) -> tuple[dict[str, Any], RecordKey, RecordKey | None]:
    reject_unknown(record, RESPONSE_FIELDS)
    record_key(record)
    customer = _ref(record, "customer", required=True)
    touchpoint = _ref(record, "touchpoint", required=False)
    assert customer is not None
    journey, stage = _journey_stage(record, journeys)
    answers = sequence(record, "answers", limits.max_answers, required=True)
    if not answers:
        raise RecordInvalid(codes.REQUIRED, "answers", "a response needs at least one answer")
    content = {
        "customerRef": {"source": customer.source, "externalId": customer.external_id},
        "touchpointRef": (
            {"source": touchpoint.source, "externalId": touchpoint.external_id}
            if touchpoint
            else None
        ),
        "journey": journey,
        "stage": stage,
        "channel": enum_value(record, "channel", CHANNELS, required=False),
        "submittedAt": timestamp(record, "submittedAt", required=True),
        "answers": [_answer(a, i) for i, a in enumerate(answers)],
        "comment": string(record, "comment", limits.max_comment, required=False),
    }
    return content, customer, touchpoint


def validate_journey(record: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    reject_unknown(record, JOURNEY_FIELDS)
    key = string(record, "key", KEY_LENGTH, required=True)
    name = string(record, "name", limits.max_string, required=True)
    stages = sequence(record, "stages", limits.max_stages, required=True)
    if not stages:
        raise RecordInvalid(codes.REQUIRED, "stages", "a journey needs at least one stage")
    seen: set[str] = set()
    out = []
    for i, stage in enumerate(stages):
        path = f"stages[{i}]."
        if not isinstance(stage, Mapping):
            raise RecordInvalid(codes.WRONG_TYPE, path[:-1], f"{path[:-1]} must be an object")
        reject_unknown(stage, STAGE_FIELDS, prefix=path)
        stage_key = string(stage, "key", KEY_LENGTH, required=True, path=path)
        assert stage_key is not None
        if stage_key in seen:
            raise RecordInvalid(
                codes.DUPLICATE_STAGE, f"{path}key", f"stage {stage_key!r} appears twice"
            )
        seen.add(stage_key)
        out.append(
            {
                "key": stage_key,
                "name": string(stage, "name", limits.max_string, required=True, path=path),
                "phase": enum_value(stage, "phase", PHASES, required=True, path=path),
                "order": i,
            }
        )
    return {"key": key, "name": name, "stages": out}
