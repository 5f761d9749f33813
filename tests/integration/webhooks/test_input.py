"""defineWebhook and friends refuse what they cannot keep: URLs that are not http(s) or
that lead to private, loopback, link-local or metadata addresses (CX_WEBHOOK_ALLOW_PRIVATE
off, as in production), unknown events, weak secrets, bad thresholds, wrong types; strings
that look like MongoDB operators are data; a credential acts for its own tenant only and
needs its scopes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import http_client, make_settings, running_app
from tests.graphql import gql, gql_ok
from tests.integration.webhooks.support import SECRET, fast, receiving, started

DEFINE = """mutation($url: String!, $events: [String!]!, $secret: String!,
                     $thresholds: [MetricThresholdInput!]) {
  defineWebhook(url: $url, events: $events, secret: $secret, thresholds: $thresholds) {
    id url events enabled thresholds { key } } }"""
PUBLIC = "https://hooks.example.com/cx"  # other arguments are checked first: never resolved
THRESHOLD = {"kind": "NPS", "operator": "BELOW", "value": 0}


def variables(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"url": PUBLIC, "events": ["responses.ingested"], "secret": SECRET,
                              "thresholds": None}  # fmt: skip
    values.update(changes)
    return values


def refusal(body: dict[str, Any]) -> tuple[str, str | None]:
    (error,) = body["errors"]
    return error["extensions"]["code"], error["extensions"].get("reason")


@pytest.fixture
async def strict_app(mongo_uri: str) -> Any:
    async with running_app(make_settings(mongo_uri)) as application:
        yield application


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "INVALID_URL"),
        ("file:///etc/passwd", "INVALID_URL"),
        ("gopher://example.com/", "INVALID_URL"),
        ("//example.com/hook", "INVALID_URL"),
        ("http:///hook", "INVALID_URL"),
        ("https://", "INVALID_URL"),
        ("", "INVALID_URL"),
        ("https://example.com/hook#frag", "INVALID_URL"),
        ("https://user:pass@example.com/hook", "INVALID_URL"),
        ("https://example.com:99999/hook", "INVALID_URL"),
        (" https://example.com/hook", "INVALID_URL"),
        ("https://exa mple.com/hook", "INVALID_URL"),
        ('{"$gt": ""}', "INVALID_URL"),
        ("$where", "INVALID_URL"),
        ("https://example.com/" + "a" * 2100, "URL_TOO_LONG"),
        ("http://127.0.0.1:8080/hook", "PRIVATE_ADDRESS"),
        ("http://localhost/hook", "PRIVATE_ADDRESS"),
        ("http://10.0.0.5/hook", "PRIVATE_ADDRESS"),
        ("http://172.16.3.4/hook", "PRIVATE_ADDRESS"),
        ("http://192.168.1.1/hook", "PRIVATE_ADDRESS"),
        ("http://169.254.169.254/latest/meta-data/", "PRIVATE_ADDRESS"),
        ("http://100.100.100.200/", "PRIVATE_ADDRESS"),
        ("http://0.0.0.0:8000/", "PRIVATE_ADDRESS"),
        ("http://[::1]/hook", "PRIVATE_ADDRESS"),
        ("http://[::ffff:127.0.0.1]/hook", "PRIVATE_ADDRESS"),
        ("http://[fd00:ec2::254]/", "PRIVATE_ADDRESS"),
        ("http://[fe80::1]/hook", "PRIVATE_ADDRESS"),
        ("http://2130706433/hook", "PRIVATE_ADDRESS"),  # 127.0.0.1 as one number
        ("http://host.invalid/hook", "UNRESOLVABLE_HOST"),
    ],
)
async def test_urls_that_are_refused(strict_app: Starlette, url: str, reason: str) -> None:
    async with http_client(strict_app) as client:
        body = await gql(client, DEFINE, variables(url=url))
        assert refusal(body) == ("BAD_USER_INPUT", reason), body
        assert body["errors"][0]["extensions"]["field"] == "url"
        assert (await gql_ok(client, "{ webhooks { id } }"))["webhooks"] == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"events": ["responses.created"]}, "UNKNOWN_EVENT"),
        ({"events": ["responses.ingested", "$where"]}, "UNKNOWN_EVENT"),
        ({"events": ['{"$ne": null}']}, "UNKNOWN_EVENT"),
        ({"events": []}, "NO_EVENTS"),
        ({"secret": ""}, "INVALID_SECRET"),
        ({"secret": "too-short"}, "INVALID_SECRET"),
        ({"secret": "s" * 257}, "INVALID_SECRET"),
        ({"events": ["metric.threshold"]}, "INVALID_THRESHOLD"),
        ({"thresholds": [THRESHOLD]}, "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"], "thresholds": [THRESHOLD] * 11}, "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"], "thresholds": [THRESHOLD, THRESHOLD]},
         "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"], "thresholds": [{**THRESHOLD, "windowDays": 0}]},
         "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"], "thresholds": [{**THRESHOLD, "windowDays": 401}]},
         "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"], "thresholds": [{**THRESHOLD, "minSample": 0}]},
         "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"],
          "thresholds": [{**THRESHOLD, "filter": {"segments": []}}]}, "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"],
          "thresholds": [{**THRESHOLD, "filter": {"segments": ["x" * 257]}}]},
         "INVALID_THRESHOLD"),
        ({"events": ["metric.threshold"], "thresholds": [
            {"kind": "CHURN_RATE", "operator": "ABOVE", "value": 5,
             "filter": {"journeys": ["onboarding"]}}]}, "UNSUPPORTED_FILTER"),
        ({"events": ["metric.threshold"], "thresholds": [
            {"kind": "FCR", "operator": "BELOW", "value": 80,
             "filter": {"questions": ["q1"]}}]}, "UNSUPPORTED_FILTER"),
        ({"events": ["metric.threshold"],
          "thresholds": [{**THRESHOLD, "filter": {"questions": [f"q{i}" for i in range(101)]}}]},
         "INVALID_QUESTIONS"),
    ],
)  # fmt: skip
async def test_arguments_that_are_refused(
    strict_app: Starlette, changes: dict[str, Any], reason: str
) -> None:
    async with http_client(strict_app) as client:
        body = await gql(client, DEFINE, variables(**changes))
        assert refusal(body) == ("BAD_USER_INPUT", reason), body
        assert (await gql_ok(client, "{ webhooks { id } }"))["webhooks"] == []


@pytest.mark.parametrize(
    "document",
    [
        'mutation { defineWebhook(url: 5, events: ["responses.ingested"], secret: "%s") { id } }',
        'mutation { defineWebhook(url: "https://x.example", events: "responses.ingested", '
        "secret: null) { id } }",
        'mutation { defineWebhook(url: "https://x.example", secret: "%s") { id } }',
        'mutation { defineWebhook(url: "https://x.example", events: ["responses.ingested"], '
        'secret: "%s", thresholds: [{kind: NPS, operator: BELOW, value: 0, colour: 1}]) { id } }',
        'mutation { defineWebhook(url: "https://x.example", events: ["metric.threshold"], '
        'secret: "%s", thresholds: [{kind: NPS, operator: LESS, value: 0}]) { id } }',
        "{ webhookDeliveries(status: LOST) { id } }",
        "{ webhooks { id secret } }",
    ],
)
async def test_wrong_types_and_unknown_fields_are_bad_user_input(
    strict_app: Starlette, document: str
) -> None:
    async with http_client(strict_app) as client:
        body = await gql(client, document.replace("%s", SECRET))
        assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}, body


@pytest.mark.parametrize(
    ("document", "code", "reason"),
    [
        ('mutation { deleteWebhook(id: "whk_nope") }', "NOT_FOUND", "UNKNOWN_WEBHOOK"),
        ('mutation { deleteWebhook(id: "{\\"$ne\\": null}") }', "NOT_FOUND", "UNKNOWN_WEBHOOK"),
        ('mutation { setWebhookEnabled(id: "whk_nope", enabled: false) { id } }', "NOT_FOUND",
         "UNKNOWN_WEBHOOK"),
        ('mutation { retryWebhookDelivery(id: "{\\"$gt\\": \\"\\"}") { id } }', "NOT_FOUND",
         "UNKNOWN_DELIVERY"),
        ("{ webhookDeliveries(first: 0) { id } }", "BAD_USER_INPUT", "INVALID_PAGE_SIZE"),
        ("{ webhookDeliveries(first: 501) { id } }", "BAD_USER_INPUT", "INVALID_PAGE_SIZE"),
    ],
)  # fmt: skip
async def test_unknown_ids_and_page_sizes(
    strict_app: Starlette, document: str, code: str, reason: str
) -> None:
    async with http_client(strict_app) as client:
        assert refusal(await gql(client, document)) == (code, reason)


# -- what is accepted: operator-looking strings are data; the secret never comes back -------


async def test_operator_looking_strings_are_stored_as_they_are(mongo_uri: str) -> None:
    secret = '{"$ne": null, "$where": "1"}-padding'
    async with started(fast(mongo_uri)) as application, http_client(application) as client:
        with receiving() as receiver:
            url = receiver.url + '?q={"$gt":""}&$where=1'
            body = await gql_ok(client, DEFINE, variables(url=url, secret=secret))
            hook = body["defineWebhook"]
            assert hook["url"] == url
            listed = await client.post("/graphql", json={"query": "{ webhooks { id url } }"})
            assert secret not in listed.text and SECRET not in listed.text
            assert listed.json()["data"]["webhooks"] == [{"id": hook["id"], "url": url}]
            stored = await application.state.cx.mongo.db.webhooks.find_one({"_id": hook["id"]})
            assert (stored["url"], stored["secret"]) == (url, secret)
            deleted = await gql(client, 'mutation { deleteWebhook(id: "{\\"$ne\\": null}") }')
            assert refusal(deleted) == ("NOT_FOUND", "UNKNOWN_WEBHOOK")
            assert len((await gql_ok(client, "{ webhooks { id } }"))["webhooks"]) == 1


async def test_defining_the_same_url_again_replaces_it(mongo_uri: str) -> None:
    async with started(fast(mongo_uri)) as application, http_client(application) as client:
        with receiving() as receiver:
            first = (await gql_ok(client, DEFINE, variables(url=receiver.url)))["defineWebhook"]
            second = (await gql_ok(client, DEFINE, variables(
                url=receiver.url, events=["metric.threshold", "responses.ingested"],
                thresholds=[THRESHOLD], secret=SECRET + "-rotated")))["defineWebhook"]  # fmt: skip
            assert second["id"] == first["id"]
            assert second["events"] == ["responses.ingested", "metric.threshold"]
            assert len(second["thresholds"]) == 1
            stored = await application.state.cx.mongo.db.webhooks.find_one({"_id": first["id"]})
            assert stored["secret"] == SECRET + "-rotated"
            assert len((await gql_ok(client, "{ webhooks { id } }"))["webhooks"]) == 1
            third = (await gql_ok(client, DEFINE, variables(
                url=receiver.url, events=["metric.threshold"], secret=SECRET,
                thresholds=[{**THRESHOLD, "filter": {"questions": ["nps-q", "$where"],
                                                     "channels": ["WEB"]}}])))  # fmt: skip
            (listed,) = (await gql_ok(client, "{ webhooks { thresholds { filter { questions "
                                              "channels segments } } } }"))["webhooks"]  # fmt: skip
            assert listed["thresholds"][0]["filter"] == {
                "questions": ["$where", "nps-q"],
                "channels": ["WEB"],
                "segments": None,
            }
            assert third["defineWebhook"]["id"] == first["id"]


async def test_the_schema_has_no_way_to_read_a_secret() -> None:
    from service.http.app import export_sdl

    sdl = export_sdl()
    webhook_type = sdl[sdl.index("type Webhook {") :]
    webhook_type = webhook_type[: webhook_type.index("}")]
    assert "secret" not in webhook_type


# -- scopes and tenants ------------------------------------------------------------------------


WRITE = 'mutation($url: String!) { defineWebhook(url: $url, events: %s, secret: "%s") { id } }'


def define_document(events: list[str]) -> str:
    return WRITE % (json.dumps(events), SECRET)


async def forbidden_scope(client: httpx.AsyncClient, document: str,
                          variables_: dict[str, Any] | None = None) -> str | None:  # fmt: skip
    body = await gql(client, document, variables_)
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN", body
    scope: str | None = error["extensions"]["scope"]
    return scope


async def test_scopes(mongo_uri: str) -> None:
    async with started(fast(mongo_uri)) as application:
        with receiving() as receiver:
            url = {"url": receiver.url}
            async with http_client(application, scopes=["metrics:read", "data:read"]) as c:
                assert await forbidden_scope(c, define_document(["responses.ingested"]), url) == (
                    "webhooks:write")  # fmt: skip
                assert await forbidden_scope(c, "{ webhooks { id } }") == (
                    "webhooks:read or webhooks:write")  # fmt: skip
                assert await forbidden_scope(c, "{ webhookDeliveries { id } }") == (
                    "webhooks:read or webhooks:write")  # fmt: skip
            async with http_client(application, scopes=["webhooks:write"]) as c:
                # an event shows what a scope reads: subscribing to it needs that scope too
                doc = define_document(["responses.ingested"])
                assert await forbidden_scope(c, doc, url) == "data:read"
                doc = define_document(["metric.threshold"])
                assert await forbidden_scope(c, doc, url) == "metrics:read"
            async with http_client(application, scopes=["webhooks:write", "data:read"]) as c:
                await gql_ok(c, define_document(["responses.ingested"]), url)
            async with http_client(application, scopes=["webhooks:read"]) as c:
                assert len((await gql_ok(c, "{ webhooks { id } }"))["webhooks"]) == 1
                assert await forbidden_scope(c, 'mutation { deleteWebhook(id: "x") }') == (
                    "webhooks:write")  # fmt: skip


async def test_a_tenant_sees_and_touches_only_its_own_webhooks(mongo_uri: str) -> None:
    from tests.integration.builders import response, submit_responses
    from tests.integration.webhooks.support import recent

    async with started(fast(mongo_uri)) as application:
        with receiving() as receiver:
            async with http_client(application, tenant="acme") as acme:
                hook = (await gql_ok(acme, DEFINE, variables(url=receiver.url)))["defineWebhook"]
                await submit_responses(acme, [response("r1", submitted_at=recent(1))])
                await receiver.wait_for(1)
            async with http_client(application, tenant="globex") as globex:
                assert (await gql_ok(globex, "{ webhooks { id } }"))["webhooks"] == []
                listed = await gql_ok(globex, "query($w: ID) { webhookDeliveries(webhook: $w) "
                                              "{ id } }", {"w": hook["id"]})  # fmt: skip
                assert listed["webhookDeliveries"] == []
                assert (await gql_ok(globex, "{ webhookDeliveries { id } }"))[
                    "webhookDeliveries"] == []  # fmt: skip
                for document in ("mutation($id: ID!) { deleteWebhook(id: $id) }",
                                 "mutation($id: ID!) { setWebhookEnabled(id: $id, "
                                 "enabled: false) { id } }"):  # fmt: skip
                    body = await gql(globex, document, {"id": hook["id"]})
                    assert refusal(body) == ("NOT_FOUND", "UNKNOWN_WEBHOOK")
                # the same URL in another tenant is another webhook
                own = (await gql_ok(globex, DEFINE, variables(url=receiver.url)))["defineWebhook"]
                assert own["id"] != hook["id"]
                await submit_responses(globex, [response("r1", submitted_at=recent(1))])
                await receiver.wait_for(2)
            async with http_client(application, tenant="acme") as acme:
                (delivery,) = (await gql_ok(acme, "{ webhookDeliveries { webhookId } }"))[
                    "webhookDeliveries"]  # fmt: skip
                assert delivery["webhookId"] == hook["id"]
