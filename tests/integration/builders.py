"""Partner records (GraphQL inputs) and small helpers shared by the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.graphql import (
    DEFINE_JOURNEY,
    RECORD_TOUCHPOINTS,
    SUBMIT_RESPONSES,
    UPSERT_CUSTOMERS,
    gql_ok,
)

SOURCE = "crm"
BASE_TIME = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)

JOURNEY = {
    "key": "onboarding",
    "name": "Onboarding",
    "stages": [
        {"key": "signup", "name": "Sign up", "phase": "PRE_PURCHASE"},
        {"key": "checkout", "name": "Checkout", "phase": "PURCHASE"},
        {"key": "support", "name": "Support", "phase": "POST_PURCHASE"},
    ],
}


def iso(moment: datetime) -> str:
    """An ISO-8601 timestamp with its UTC offset, as partners send them."""
    return moment.isoformat()


def at(minutes: float) -> datetime:
    return BASE_TIME + timedelta(minutes=minutes)


def ref(external_id: str, source: str = SOURCE) -> dict[str, str]:
    return {"source": source, "externalId": external_id}


def customer(external_id: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"source": SOURCE, "externalId": external_id}
    record.update(fields)
    return record


def touchpoint(
    external_id: str,
    customer_id: str = "c1",
    *,
    occurred_at: datetime | str | None = None,
    channel: str = "WEB",
    kind: str = "visit",
    **fields: Any,
) -> dict[str, Any]:
    when = BASE_TIME if occurred_at is None else occurred_at
    record: dict[str, Any] = {
        "source": SOURCE,
        "externalId": external_id,
        "customer": ref(customer_id),
        "channel": channel,
        "kind": kind,
        "occurredAt": when if isinstance(when, str) else iso(when),
    }
    record.update(fields)
    return record


def answer(
    metric: str = "CSAT", value: float = 4, scale_min: int = 1, scale_max: int = 5, **fields: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "question": f"{metric.lower()} question",
        "metric": metric,
        "value": value,
        "scaleMin": scale_min,
        "scaleMax": scale_max,
    }
    record.update(fields)
    return record


def nps(value: float) -> dict[str, Any]:
    return answer("NPS", value, 0, 10)


def response(
    external_id: str,
    customer_id: str = "c1",
    *,
    submitted_at: datetime | str | None = None,
    answers: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    when = BASE_TIME if submitted_at is None else submitted_at
    record: dict[str, Any] = {
        "source": SOURCE,
        "externalId": external_id,
        "customer": ref(customer_id),
        "submittedAt": when if isinstance(when, str) else iso(when),
        "answers": answers if answers is not None else [nps(9)],
    }
    record.update(fields)
    return record


async def define_journey(
    client: httpx.AsyncClient, journey: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = await gql_ok(client, DEFINE_JOURNEY, {"input": journey or JOURNEY})
    result: dict[str, Any] = data["defineJourney"]
    return result


async def upsert_customers(
    client: httpx.AsyncClient, records: list[dict[str, Any]]
) -> dict[str, Any]:
    data = await gql_ok(client, UPSERT_CUSTOMERS, {"input": records})
    result: dict[str, Any] = data["upsertCustomers"]
    return result


async def record_touchpoints(
    client: httpx.AsyncClient, records: list[dict[str, Any]]
) -> dict[str, Any]:
    data = await gql_ok(client, RECORD_TOUCHPOINTS, {"input": records})
    result: dict[str, Any] = data["recordTouchpoints"]
    return result


async def submit_responses(
    client: httpx.AsyncClient, records: list[dict[str, Any]]
) -> dict[str, Any]:
    data = await gql_ok(client, SUBMIT_RESPONSES, {"input": records})
    result: dict[str, Any] = data["submitSurveyResponses"]
    return result


async def data_version(client: httpx.AsyncClient) -> int:
    """The tenant's current data version: an empty batch writes nothing and reports it."""
    return int((await upsert_customers(client, []))["dataVersion"])


def statuses(result: dict[str, Any]) -> list[str]:
    return [r["status"] for r in result["results"]]


def counts(result: dict[str, Any]) -> tuple[int, int, int, int]:
    return (result["inserted"], result["updated"], result["unchanged"], result["rejected"])


def rejection(result: dict[str, Any], index: int) -> tuple[str, str | None]:
    """The (code, field) a record of the batch was rejected with."""
    outcome = result["results"][index]
    assert outcome["status"] == "REJECTED", outcome
    assert outcome["id"] is None, outcome
    return outcome["error"]["code"], outcome["error"]["field"]


def ids(result: dict[str, Any]) -> list[str | None]:
    return [r["id"] for r in result["results"]]


async def all_docs(collection: Any) -> list[dict[str, Any]]:
    """Every stored document of a collection, in _id order."""
    docs: list[dict[str, Any]] = await collection.find({}).sort("_id", 1).to_list(None)
    return docs
