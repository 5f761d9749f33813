"""The raw partner records (as sent to the GraphQL mutations) as pandas DataFrames.

Nothing here comes from the service: the records are read as the GraphQL inputs describe them
(camelCase keys, timestamps as ISO-8601 strings with a UTC offset or as aware datetimes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

Key = tuple[str, str]

TIME = "datetime64[ns, UTC]"


def to_utc(value: Any) -> pd.Timestamp | None:
    """An ISO-8601 string with an offset, or an aware datetime, as a UTC pandas Timestamp."""
    if value is None:
        return None
    if isinstance(value, str):
        moment = datetime.fromisoformat(value)
    elif isinstance(value, datetime):
        moment = value
    else:
        raise TypeError(f"not a timestamp: {value!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timestamp needs a UTC offset: {value!r}")
    return pd.Timestamp(moment).tz_convert("UTC")


def ref_key(ref: Mapping[str, Any]) -> Key:
    return (str(ref["source"]), str(ref["externalId"]))


def _latest(records: Iterable[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    """Records by (source, externalId): a record sent again replaces the earlier one whole
    (upsert; an omitted optional field is cleared). Each keeps the position it was first sent at,
    which breaks ties between equal timestamps."""
    by_key: dict[Key, tuple[int, Mapping[str, Any]]] = {}
    for position, record in enumerate(records):
        key = ref_key(record)
        first = by_key[key][0] if key in by_key else position
        by_key[key] = (first, record)
    return sorted(by_key.values(), key=lambda item: item[0])


def _segments(values: Iterable[str] | None) -> tuple[str, ...]:
    # Segments are a set: stored de-duplicated and sorted.
    return tuple(sorted(set(values or ())))


def _column(values: list[Any], dtype: str) -> pd.Series:
    if dtype == "time":
        return pd.Series(values, dtype=TIME)
    return pd.Series(values, dtype=dtype)


def _frame(rows: list[dict[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {name: _column([row[name] for row in rows], dtype) for name, dtype in columns.items()}
    )


CUSTOMER_COLUMNS = {
    "key": "object",
    "source": "object",
    "externalId": "object",
    "name": "object",
    "email": "object",
    "segments": "object",
    "signedUpAt": "time",
    "churnedAt": "time",
    "revenue": "float64",
    "order": "int64",
}

RESPONSE_COLUMNS = {
    "key": "object",
    "source": "object",
    "externalId": "object",
    "customer": "object",
    "submittedAt": "time",
    "journey": "object",
    "stage": "object",
    "channel": "object",
    "touchpoint": "object",
    "segments": "object",
    # The components of the response's answers (None for an answer without one), as a set.
    "components": "object",
    "answerCount": "int64",
    "order": "int64",
}

ANSWER_COLUMNS = {
    "response": "object",
    "answerIndex": "int64",
    "customer": "object",
    "submittedAt": "time",
    "journey": "object",
    "stage": "object",
    "channel": "object",
    "segments": "object",
    "question": "object",
    "metric": "object",
    "value": "float64",
    "scaleMin": "int64",
    "scaleMax": "int64",
    "component": "object",
    # whether a high value means easy (CES); an answer that does not say is on the CES 2.0
    # agreement scale, where it does
    "highIsEasy": "bool",
    "order": "int64",
}

TOUCHPOINT_COLUMNS = {
    "key": "object",
    "source": "object",
    "externalId": "object",
    "customer": "object",
    "channel": "object",
    "kind": "object",
    "occurredAt": "time",
    "journey": "object",
    "stage": "object",
    "caseId": "object",
    "resolved": "object",
    "component": "object",
    "segments": "object",
    "order": "int64",
}

STAGE_COLUMNS = {
    "journey": "object",
    "stage": "object",
    "name": "object",
    "phase": "object",
    "order": "int64",
}


class Dataset:
    """Customers, touchpoints, survey responses (and their answers) and journeys as DataFrames.

    - `customers`: one row per customer sent (stubs, referenced but never sent, are absent);
    - `responses`: one row per survey response; `answers`: one row per answer;
    - `touchpoints`: one row per touchpoint; `stages`: one row per journey stage, in order.

    Timestamps are UTC pandas Timestamps (NaT when absent). `segments` is the customer's
    segments as a sorted tuple, the empty tuple for a customer never sent. `key` and
    `customer` are (source, externalId) pairs.
    """

    def __init__(
        self,
        customers: Iterable[Mapping[str, Any]] = (),
        touchpoints: Iterable[Mapping[str, Any]] = (),
        responses: Iterable[Mapping[str, Any]] = (),
        journeys: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        customer_rows = [
            {
                "key": ref_key(c),
                "source": c["source"],
                "externalId": c["externalId"],
                "name": c.get("name"),
                "email": c.get("email"),
                "segments": _segments(c.get("segments")),
                "signedUpAt": to_utc(c.get("signedUpAt")),
                "churnedAt": to_utc(c.get("churnedAt")),
                "revenue": c.get("revenue"),
                "order": position,
            }
            for position, c in _latest(customers)
        ]
        self.customers = _frame(customer_rows, CUSTOMER_COLUMNS)
        segments_of = {row["key"]: row["segments"] for row in customer_rows}

        def snapshot(ref: Mapping[str, Any]) -> tuple[str, ...]:
            # Tests send customers first and never change segments, so the snapshot is the
            # customer's segments; a customer never sent has none.
            return segments_of.get(ref_key(ref), ())

        response_rows: list[dict[str, Any]] = []
        answer_rows: list[dict[str, Any]] = []
        for position, r in _latest(responses):
            key = ref_key(r)
            # CHOICE: a response's journey, stage and channel are its own fields only; nothing
            # is taken from the touchpoint it references.
            common = {
                "customer": ref_key(r["customer"]),
                "submittedAt": to_utc(r["submittedAt"]),
                "journey": r.get("journey"),
                "stage": r.get("stage"),
                "channel": r.get("channel"),
                "segments": snapshot(r["customer"]),
                "order": position,
            }
            answers = list(r.get("answers") or ())
            touchpoint = r.get("touchpoint")
            response_rows.append(
                {
                    "key": key,
                    "source": r["source"],
                    "externalId": r["externalId"],
                    "touchpoint": ref_key(touchpoint) if touchpoint else None,
                    "components": frozenset(a.get("component") for a in answers),
                    "answerCount": len(answers),
                    **common,
                }
            )
            for index, a in enumerate(answers):
                answer_rows.append(
                    {
                        "response": key,
                        "answerIndex": index,
                        "question": a.get("question"),
                        "metric": a["metric"],
                        "value": float(a["value"]),
                        "scaleMin": int(a["scaleMin"]),
                        "scaleMax": int(a["scaleMax"]),
                        "component": a.get("component"),
                        "highIsEasy": a.get("highIsEasy") is not False,
                        **common,
                    }
                )
        self.responses = _frame(response_rows, RESPONSE_COLUMNS)
        self.answers = _frame(answer_rows, ANSWER_COLUMNS)

        touchpoint_rows = [
            {
                "key": ref_key(t),
                "source": t["source"],
                "externalId": t["externalId"],
                "customer": ref_key(t["customer"]),
                "channel": t["channel"],
                "kind": t["kind"],
                "occurredAt": to_utc(t["occurredAt"]),
                "journey": t.get("journey"),
                "stage": t.get("stage"),
                "caseId": t.get("caseId"),
                "resolved": t.get("resolved"),
                "component": t.get("component"),
                "segments": snapshot(t["customer"]),
                "order": position,
            }
            for position, t in _latest(touchpoints)
        ]
        self.touchpoints = _frame(touchpoint_rows, TOUCHPOINT_COLUMNS)

        # A journey defined again replaces the earlier definition.
        self.journeys: dict[str, dict[str, Any]] = {}
        for journey in journeys:
            self.journeys[journey["key"]] = {
                "key": journey["key"],
                "name": journey["name"],
                "stages": [dict(stage) for stage in journey["stages"]],
            }
        stage_rows = [
            {
                "journey": key,
                "stage": stage["key"],
                "name": stage["name"],
                "phase": stage["phase"],
                "order": order,
            }
            for key, journey in self.journeys.items()
            for order, stage in enumerate(journey["stages"])
        ]
        self.stages = _frame(stage_rows, STAGE_COLUMNS)
