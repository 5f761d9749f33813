"""resolvers/fast_input: bulk inputs reach the resolvers as the records ``as_record`` made of
Strawberry's input objects, key for key and type for type, without building those objects.

Two schemas publish the same inputs: one with the typed arguments (the old path, through
``as_record``), one with the raw stand-ins the mutations use now. Every case runs the same
operation on both and compares what the resolvers received, then checks it exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import httpx
import pytest
import strawberry
from strawberry.relay import GlobalID
from strawberry.schema.config import StrawberryConfig

from resolvers.fast_input import (
    CustomerRecords,
    SurveyResponseRecords,
    TouchpointRecords,
    UnsupportedInput,
    list_of_records,
    raw_input,
)
from resolvers.records import as_record
from resolvers.schema import build_schema
from schema.inputs import (
    CustomerInput,
    JourneyInput,
    RecordRefInput,
    SurveyResponseInput,
    TouchpointInput,
)
from service.domain.ids import record_id
from tests.graphql import SUBMIT_RESPONSES, gql, gql_ok
from tests.integration.builders import SOURCE, customer, define_journey, upsert_customers

JourneyRecord = Annotated[dict[str, Any], strawberry.argument(graphql_type=raw_input(JourneyInput))]
RefRecords = Annotated[
    list[dict[str, Any]], strawberry.argument(graphql_type=list_of_records(RecordRefInput))
]


def _keep(info: strawberry.Info, record: Any) -> int:
    info.context["records"].append(record)
    return 0


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type(name="Mutation")
class TypedMutation:
    @strawberry.mutation
    def customers(self, info: strawberry.Info, input: list[CustomerInput]) -> int:
        return _keep(info, as_record(input))

    @strawberry.mutation
    def touchpoints(self, info: strawberry.Info, input: list[TouchpointInput]) -> int:
        return _keep(info, as_record(input))

    @strawberry.mutation
    def responses(self, info: strawberry.Info, input: list[SurveyResponseInput]) -> int:
        return _keep(info, as_record(input))

    @strawberry.mutation
    def journey(self, info: strawberry.Info, input: JourneyInput) -> int:
        return _keep(info, as_record(input))


@strawberry.type(name="Mutation")
class RawMutation:
    @strawberry.mutation
    def customers(self, info: strawberry.Info, input: CustomerRecords) -> int:
        return _keep(info, input)

    @strawberry.mutation
    def touchpoints(self, info: strawberry.Info, input: TouchpointRecords) -> int:
        return _keep(info, input)

    @strawberry.mutation
    def responses(self, info: strawberry.Info, input: SurveyResponseRecords) -> int:
        return _keep(info, input)

    @strawberry.mutation
    def journey(self, info: strawberry.Info, input: JourneyRecord) -> int:
        return _keep(info, input)


@strawberry.type(name="Mutation")
class RefMutation:
    @strawberry.mutation
    def refs(self, info: strawberry.Info, input: RefRecords) -> int:
        return _keep(info, input)


TYPED = strawberry.Schema(query=Query, mutation=TypedMutation)
RAW = strawberry.Schema(query=Query, mutation=RawMutation)

CUSTOMERS = "mutation($input: [CustomerInput!]!) { customers(input: $input) }"
TOUCHPOINTS = "mutation($input: [TouchpointInput!]!) { touchpoints(input: $input) }"
RESPONSES = "mutation($input: [SurveyResponseInput!]!) { responses(input: $input) }"
JOURNEY = "mutation($input: JourneyInput!) { journey(input: $input) }"

MINUS_5 = timezone(timedelta(hours=-5))


def received(schema: strawberry.Schema, query: str, variables: Any = None) -> Any:
    context: dict[str, list[Any]] = {"records": []}
    result = schema.execute_sync(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    [record] = context["records"]
    return record


def typed(value: Any) -> Any:
    """The value with every leaf's type beside it: 5 == 5.0 and an enum member is not "WEB"."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def both(query: str, variables: Any = None) -> Any:
    """What the resolver receives on the fast path, checked equal to the old path's."""
    fast = received(RAW, query, variables)
    assert typed(fast) == typed(received(TYPED, query, variables))
    return fast


def test_the_stand_ins_publish_the_same_schema() -> None:
    assert RAW.as_str() == TYPED.as_str()


def test_a_full_customer() -> None:
    record = {
        "source": "crm", "externalId": "c1", "name": "Sara", "email": "sara@example.com",
        "segments": ["vip", "smb"], "attributes": {"tier": 2, "tags": ["a", None], "x": {"y": 1.5}},
        "signedUpAt": "2026-01-02T03:04:05+03:30", "churnedAt": "2026-02-01T00:00:00Z",
        "revenue": 12,
    }  # fmt: skip
    assert both(CUSTOMERS, {"input": [record]}) == [
        {
            "source": "crm", "externalId": "c1", "name": "Sara", "email": "sara@example.com",
            "segments": ["vip", "smb"],
            "attributes": {"tier": 2, "tags": ["a", None], "x": {"y": 1.5}},
            "signedUpAt": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=3.5))),
            "churnedAt": datetime(2026, 2, 1, tzinfo=UTC),
            "revenue": 12.0,
        }
    ]  # fmt: skip


def test_absent_fields_stay_absent_and_nulls_stay_null() -> None:
    records = [
        {"source": "crm", "externalId": "c1"},
        {"source": "crm", "externalId": "c2", "name": None, "segments": None,
         "attributes": None, "signedUpAt": None, "revenue": None},
    ]  # fmt: skip
    assert both(CUSTOMERS, {"input": records}) == [
        {"source": "crm", "externalId": "c1"},
        {"source": "crm", "externalId": "c2", "name": None, "segments": None,
         "attributes": None, "signedUpAt": None, "revenue": None},
    ]  # fmt: skip


def test_a_touchpoint_with_its_customer_ref_and_enums() -> None:
    records = [
        {"source": "crm", "externalId": "t1", "customer": {"source": "crm", "externalId": "c1"},
         "channel": "CHAT", "kind": "support_call", "occurredAt": "2026-03-02T09:15:00-05:00",
         "journey": "onboarding", "stage": "support", "caseId": "case-1", "resolved": False,
         "component": "PEOPLE"},
        {"source": "crm", "externalId": "t2", "customer": {"externalId": "c2", "source": "erp"},
         "channel": "WEB", "kind": "visit", "occurredAt": "2026-03-02T09:15:00",
         "caseId": None, "component": None},
    ]  # fmt: skip
    assert both(TOUCHPOINTS, {"input": records}) == [
        {"source": "crm", "externalId": "t1", "customer": {"source": "crm", "externalId": "c1"},
         "channel": "CHAT", "kind": "support_call",
         "occurredAt": datetime(2026, 3, 2, 9, 15, tzinfo=MINUS_5),
         "journey": "onboarding", "stage": "support", "caseId": "case-1", "resolved": False,
         "component": "PEOPLE"},
        # a timestamp without an offset is the ingestion layer's to reject, on both paths
        {"source": "crm", "externalId": "t2", "customer": {"source": "erp", "externalId": "c2"},
         "channel": "WEB", "kind": "visit", "occurredAt": datetime(2026, 3, 2, 9, 15),
         "caseId": None, "component": None},
    ]  # fmt: skip


RESPONSE = {
    "source": "crm", "externalId": "r1", "customer": {"source": "crm", "externalId": "c1"},
    "touchpoint": {"source": "crm", "externalId": "t1"}, "submittedAt": "2026-03-02T09:15:00Z",
    "answers": [
        {"question": "nps", "metric": "NPS", "value": 9, "scaleMin": 0, "scaleMax": 10},
        {"question": "price", "metric": "COMPONENT", "value": 4.5, "scaleMin": 1, "scaleMax": 5,
         "component": "PRICE"},
        {"question": "csat", "metric": "CSAT", "value": 5, "scaleMin": 1, "scaleMax": 5,
         "component": None},
    ],
    "journey": "onboarding", "stage": "checkout", "channel": "EMAIL", "comment": None,
}  # fmt: skip
RESPONSE_RECORD = {
    "source": "crm", "externalId": "r1", "customer": {"source": "crm", "externalId": "c1"},
    "submittedAt": datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
    "answers": [
        {"question": "nps", "metric": "NPS", "value": 9.0, "scaleMin": 0, "scaleMax": 10},
        {"question": "price", "metric": "COMPONENT", "value": 4.5, "scaleMin": 1, "scaleMax": 5,
         "component": "PRICE"},
        {"question": "csat", "metric": "CSAT", "value": 5.0, "scaleMin": 1, "scaleMax": 5,
         "component": None},
    ],
    "touchpoint": {"source": "crm", "externalId": "t1"},
    "journey": "onboarding", "stage": "checkout", "channel": "EMAIL", "comment": None,
}  # fmt: skip


def test_a_response_with_its_refs_and_answers() -> None:
    minimal = {
        "source": "crm",
        "externalId": "r2",
        "customer": {"source": "crm", "externalId": "c1"},
        "submittedAt": "2026-03-02T10:00:00+00:00",
        "answers": [],
    }
    assert both(RESPONSES, {"input": [RESPONSE, minimal]}) == [
        RESPONSE_RECORD,
        {"source": "crm", "externalId": "r2", "customer": {"source": "crm", "externalId": "c1"},
         "submittedAt": datetime(2026, 3, 2, 10, tzinfo=UTC), "answers": []},
    ]  # fmt: skip


def test_a_journey_with_its_stages() -> None:
    journey = {"key": "onboarding", "name": "Onboarding", "stages": [
        {"key": "signup", "name": "Sign up", "phase": "PRE_PURCHASE"},
        {"key": "support", "name": "Support", "phase": "POST_PURCHASE"},
    ]}  # fmt: skip
    assert both(JOURNEY, {"input": journey}) == journey


def test_literals_in_the_query_are_converted_the_same() -> None:
    query = """mutation {
      responses(input: [{
        source: "crm", externalId: "r1", customer: {source: "crm", externalId: "c1"},
        touchpoint: {source: "crm", externalId: "t1"}, submittedAt: "2026-03-02T09:15:00Z",
        answers: [
          {question: "nps", metric: NPS, value: 9, scaleMin: 0, scaleMax: 10},
          {question: "price", metric: COMPONENT, value: 4.5, scaleMin: 1, scaleMax: 5,
           component: PRICE},
          {question: "csat", metric: CSAT, value: 5, scaleMin: 1, scaleMax: 5, component: null}
        ],
        journey: "onboarding", stage: "checkout", channel: EMAIL, comment: null
      }])
    }"""
    assert both(query) == [RESPONSE_RECORD]
    assert both(query) == both(RESPONSES, {"input": [RESPONSE]})


def test_variables_inside_literals_and_a_single_object_for_a_list() -> None:
    query = """mutation($when: DateTime!, $channel: Channel, $ref: RecordRefInput!) {
      touchpoints(input: {source: "crm", externalId: "t1", customer: $ref, channel: WEB,
                          kind: "visit", occurredAt: $when, component: $channel})
    }"""
    query = query.replace("$channel: Channel", "$channel: Component")
    variables = {"when": "2026-03-02T09:15:00-05:00", "channel": "PRICE",
                 "ref": {"source": "crm", "externalId": "c1"}}  # fmt: skip
    assert both(query, variables) == [
        {"source": "crm", "externalId": "t1", "customer": {"source": "crm", "externalId": "c1"},
         "channel": "WEB", "kind": "visit",
         "occurredAt": datetime(2026, 3, 2, 9, 15, tzinfo=MINUS_5), "component": "PRICE"},
    ]  # fmt: skip
    # an omitted nullable variable leaves the field out, as if it were not written
    del variables["channel"]
    assert "component" not in both(query, variables)[0]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"input": [{**RESPONSE, "channel": "FAX"}]},
         "Value 'FAX' does not exist in 'Channel' enum."),
        ({"input": [{**RESPONSE, "answers": [{"question": "q", "metric": "NPS", "value": "high",
                                              "scaleMin": 0, "scaleMax": 10}]}]},
         "Float cannot represent non numeric value: 'high'"),
        ({"input": [{**RESPONSE, "submittedAt": "yesterday"}]}, "yesterday"),
        ({"input": [{**RESPONSE, "colour": "blue"}]}, "colour"),
        ({"input": [{k: v for k, v in RESPONSE.items() if k != "customer"}]}, "customer"),
    ],
)  # fmt: skip
def test_graphql_still_checks_the_types(variables: dict[str, Any], message: str) -> None:
    typed_errors = TYPED.execute_sync(RESPONSES, variable_values=variables, context_value={}).errors
    raw_errors = RAW.execute_sync(RESPONSES, variable_values=variables, context_value={}).errors
    assert raw_errors is not None and typed_errors is not None
    assert [e.message for e in raw_errors] == [e.message for e in typed_errors]
    assert len(raw_errors) == 1 and message in raw_errors[0].message


def test_field_names_follow_the_schema_config() -> None:
    snake = strawberry.Schema(
        query=Query, mutation=RefMutation, config=StrawberryConfig(auto_camel_case=False)
    )
    camel = strawberry.Schema(query=Query, mutation=RefMutation)
    for _ in range(2):  # the converter is compiled again when the config changes
        assert received(snake, 'mutation { refs(input: {source: "a", external_id: "b"}) }') == [
            {"source": "a", "external_id": "b"}
        ]
        assert received(camel, 'mutation { refs(input: {source: "a", externalId: "b"}) }') == [
            {"source": "a", "externalId": "b"}
        ]


@strawberry.input
class WithMaybe:
    name: strawberry.Maybe[str]


@strawberry.input
class WithGlobalId:
    id: GlobalID


@strawberry.input(one_of=True)
class OneOf:
    a: str | None = strawberry.UNSET
    b: int | None = strawberry.UNSET


@strawberry.input
class Nesting:
    inner: list[WithMaybe] | None = strawberry.UNSET


@strawberry.input
class Tree:
    children: list[Tree] | None = strawberry.UNSET


@strawberry.type
class Output:
    name: str


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (WithMaybe, "WithMaybe.name: Maybe fields are not supported"),
        (WithGlobalId, "WithGlobalId.id: GlobalID is converted by Strawberry"),
        (OneOf, "OneOf: OneOf input OneOf is not supported"),
        (Nesting, "WithMaybe.name: Maybe fields are not supported"),
        (Output, "Output: Output is not an input type"),
        (Tree, "Tree.children: recursive input Tree is not supported"),
    ],
)
def test_inputs_it_cannot_reproduce_are_refused_at_import(cls: type, message: str) -> None:
    with pytest.raises(UnsupportedInput) as refused:
        raw_input(cls)
    assert str(refused.value) == message


def test_the_service_schema_uses_the_stand_ins() -> None:
    schema = build_schema()
    mutation = schema.get_type_by_name("Mutation")
    assert mutation is not None
    argument_types = {
        f.name: f.arguments[0].type.of_type.__strawberry_definition__.from_input is not None
        for f in mutation.fields  # type: ignore[union-attr]
        if f.name in ("upsert_customers", "record_touchpoints", "submit_survey_responses")
    }
    assert argument_types == {
        "upsert_customers": True, "record_touchpoints": True, "submit_survey_responses": True,
    }  # fmt: skip


# --- through the service ------------------------------------------------------------------


async def test_the_mutation_stores_the_same_document_from_literals_and_variables(
    client: httpx.AsyncClient, db: Any
) -> None:
    await define_journey(client)
    await upsert_customers(client, [customer("c1", segments=["vip"])])
    fields = "inserted rejected results { status error { code } }"
    literal = """mutation($when: DateTime!) { submitSurveyResponses(input: [{
        source: "crm", externalId: "lit", customer: {source: "crm", externalId: "c1"},
        submittedAt: $when, channel: EMAIL, journey: "onboarding", stage: "checkout",
        answers: [{question: "price", metric: COMPONENT, value: 4, scaleMin: 1, scaleMax: 5,
                   component: PRICE}], comment: null}]) { FIELDS } }""".replace("FIELDS", fields)
    variables = {"input": [{
        "source": "crm", "externalId": "var", "customer": {"source": "crm", "externalId": "c1"},
        "submittedAt": "2026-03-02T09:15:00-05:00", "channel": "EMAIL", "journey": "onboarding",
        "stage": "checkout", "answers": [{"question": "price", "metric": "COMPONENT", "value": 4,
        "scaleMin": 1, "scaleMax": 5, "component": "PRICE"}], "comment": None}]}  # fmt: skip

    from_literal = await gql_ok(client, literal, {"when": "2026-03-02T09:15:00-05:00"})
    from_variables = await gql_ok(client, SUBMIT_RESPONSES, variables)

    assert from_literal["submitSurveyResponses"] == {
        "inserted": 1, "rejected": 0, "results": [{"status": "INSERTED", "error": None}],
    }  # fmt: skip
    assert from_variables["submitSurveyResponses"]["inserted"] == 1
    lit = await db.survey_responses.find_one({"externalId": "lit"})
    var = await db.survey_responses.find_one({"externalId": "var"})
    assert lit["_id"] == record_id("survey_responses", "default", SOURCE, "lit")
    assert (lit["channel"], lit["submittedAt"], lit["segments"], lit["answers"]) == (
        "EMAIL",
        datetime(2026, 3, 2, 14, 15, tzinfo=UTC),
        ["vip"],
        [{"question": "price", "metric": "COMPONENT", "value": 4, "scale": {"min": 1, "max": 5},
          "component": "PRICE"}],
    )  # fmt: skip
    volatile = ("_id", "externalId", "writeId", "createdAt", "updatedAt")
    assert {k: v for k, v in lit.items() if k not in volatile} == {
        k: v for k, v in var.items() if k not in volatile
    }


async def test_type_errors_still_refuse_the_whole_request(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        "mutation($input: [CustomerInput!]!) { upsertCustomers(input: $input) { inserted } }",
        {"input": [{"source": "crm", "externalId": "c1", "revenue": "lots"}]},
    )
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]
