"""Helpers to talk GraphQL over HTTP in tests, and the mutations' documents."""

from __future__ import annotations

from typing import Any

import httpx

BULK_FIELDS = """dataVersion inserted updated unchanged rejected
results { index externalId status id error { code field message } }"""

DEFINE_JOURNEY = """mutation($input: JourneyInput!) {
  defineJourney(input: $input) { key name stages { key name phase order } } }"""
UPSERT_CUSTOMERS = (
    f"mutation($input: [CustomerInput!]!) {{ upsertCustomers(input: $input) {{ {BULK_FIELDS} }} }}"
)
RECORD_TOUCHPOINTS = (
    "mutation($input: [TouchpointInput!]!) "
    f"{{ recordTouchpoints(input: $input) {{ {BULK_FIELDS} }} }}"
)
SUBMIT_RESPONSES = (
    "mutation($input: [SurveyResponseInput!]!) "
    f"{{ submitSurveyResponses(input: $input) {{ {BULK_FIELDS} }} }}"
)


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The whole response body, errors included."""
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code in (200, 400), response.text
    body: dict[str, Any] = response.json()
    return body


async def gql_ok(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The data of a response that must have no errors."""
    body = await gql(client, query, variables)
    assert "errors" not in body, body.get("errors")
    data: dict[str, Any] = body["data"]
    return data


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def no_answer(body: dict[str, Any]) -> bool:
    """No field answered: ``data`` is null, or each of its (nullable) fields is (ADR 7)."""
    data = body.get("data")
    return data is None or all(value is None for value in data.values())
