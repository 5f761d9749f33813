"""eraseCustomer: personal data goes, anonymous answers stay, the act is recorded."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from tests.conftest import http_client
from tests.graphql import gql, gql_ok
from tests.integration.builders import customer, nps, response, submit_responses, upsert_customers

ERASE = """mutation($ref: RecordRefInput!) {
  eraseCustomer(ref: $ref) { customer surveyResponses dataVersion } }"""
NPS = """{ metric(kind: NPS, window: {from: "2026-02-01T00:00:00Z", to: "2026-04-01T00:00:00Z"})
  { n value } }"""
READ = """{ customer(ref: {source: "crm", externalId: "c1"}) { name email attributes
  surveyResponses(first: 10) { edges { node { comment answers { value } } } } } }"""
REF = {"source": "crm", "externalId": "c1"}


async def seed(client: httpx.AsyncClient) -> None:
    ada = customer("c1", name="Ada Lovelace", email="ada@example.com",
                   attributes={"city": "London"}, segments=["vip"])  # fmt: skip
    await upsert_customers(client, [ada])
    await submit_responses(client, [
        response("r1", "c1", answers=[nps(10)], comment="call me on +44 20 7946 0000"),
        response("r2", "c1", answers=[nps(3)]),
        response("r3", "c2", answers=[nps(9)], comment="someone else's words"),
    ])  # fmt: skip


async def test_erasure_removes_personal_data_and_keeps_the_answers(
    app: Starlette, client: httpx.AsyncClient, db: Any
) -> None:
    await seed(client)
    before = (await gql_ok(client, NPS))["metric"]
    erased = (await gql_ok(client, ERASE, {"ref": REF}))["eraseCustomer"]
    assert (erased["customer"], erased["surveyResponses"]) == (True, 1)

    assert (await gql_ok(client, NPS))["metric"] == before  # aggregates do not move
    read = (await gql_ok(client, READ))["customer"]
    assert (read["name"], read["email"], read["attributes"]) == (None, None, {})
    comments = [e["node"]["comment"] for e in read["surveyResponses"]["edges"]]
    assert comments == [None, None]
    other = await db.survey_responses.find_one({"externalId": "r3"})
    assert other["comment"] == "someone else's words"  # another customer's stay
    # nothing of what was erased remains anywhere in the customer's documents
    responses = await db.survey_responses.find({"customerRef.externalId": "c1"}).to_list(None)
    stored = [await db.customers.find_one({"externalId": "c1"}), *responses]
    assert not any(s in str(stored) for s in ("Ada", "ada@example.com", "London", "+44"))
    (audit,) = await db.erasures.find({}).to_list(None)
    assert audit["credential"].startswith("key:") and audit["tenant"] == "default"
    assert not any(s in str(audit) for s in ("Ada", "ada@example.com", "London"))


async def test_a_resend_brings_back_only_what_it_sends(client: httpx.AsyncClient) -> None:
    await seed(client)
    await gql_ok(client, ERASE, {"ref": REF})
    again = await upsert_customers(client, [customer("c1", segments=["vip"])])
    assert again["results"][0]["status"] == "UPDATED"
    assert (await gql_ok(client, READ))["customer"]["name"] is None
    await upsert_customers(client, [customer("c1", name="Ada", segments=["vip"])])
    assert (await gql_ok(client, READ))["customer"]["name"] == "Ada"


async def test_erasure_needs_data_write_and_stays_in_its_tenant(app: Starlette) -> None:
    async with http_client(app, scopes=["metrics:read", "data:read"]) as reader:
        await seed_with(app)
        refused = await gql(reader, ERASE, {"ref": REF})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with http_client(app, tenant="other") as other:
        result = (await gql_ok(other, ERASE, {"ref": REF}))["eraseCustomer"]
        assert (result["customer"], result["surveyResponses"]) == (False, 0)
    async with http_client(app) as owner:
        assert (await gql_ok(owner, READ))["customer"]["name"] == "Ada Lovelace"


async def seed_with(app: Starlette) -> None:
    async with http_client(app) as writer:
        await seed(writer)
