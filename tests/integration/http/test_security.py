"""Credentials, scopes, tenant isolation, body and rate limits, production hardening.

Every request but the probes needs a credential; the tenant is the credential's, never an
argument's; each field checks its scope; and two tenants that use the same sources and
external ids see, write, cache and rate-limit nothing of each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError
from starlette.applications import Starlette

from service.settings import Settings
from service.store import api_keys as stored_keys
from tests.conftest import api_key, http_client, make_settings, running_app, serving
from tests.graphql import gql_ok
from tests.integration.builders import customer, nps, response

SECRET = "a-test-secret-that-is-long-enough-for-hs256!"
METRIC = "{ metric(kind: NPS) { n } }"
BOTH = "{ metric(kind: NPS) { n } customers(first: 5) { edges { node { externalId } } } }"
UPSERT = """mutation($input: [CustomerInput!]!) {
  upsertCustomers(input: $input) { dataVersion results { status id } } }"""
RESPOND = """mutation($input: [SurveyResponseInput!]!) {
  submitSurveyResponses(input: $input) { dataVersion } }"""


def anonymous(application: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application)
    return httpx.AsyncClient(transport=transport, base_url="http://cxgraph.test")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def post(client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None,
               variables: dict[str, Any] | None = None) -> httpx.Response:  # fmt: skip
    body = {"query": query, "variables": variables or {}}
    return await client.post("/graphql", json=body, headers=headers or {})


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# -- no credential, a bad one, a revoked one -----------------------------------------------------


async def test_no_credential_is_401_with_www_authenticate(app: Starlette) -> None:
    async with anonymous(app) as client:
        answer_ = await post(client, "{ journeys { key } }")
        assert answer_.status_code == 401
        assert answer_.headers["www-authenticate"] == 'Bearer realm="cxgraph"'
        assert code_of(answer_) == "UNAUTHENTICATED"
        ndjson = await client.post("/ingest/customers", content=b"{}\n",
                                   headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert (ndjson.status_code, code_of(ndjson)) == (401, "UNAUTHENTICATED")
        # the probes stay open; /metrics does not
        assert (await client.get("/livez")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 401


@pytest.mark.parametrize(
    "credential",
    [
        "cxk_0123456789abcdef_" + "A" * 43,  # well-formed, unknown
        "cxk_short",  # malformed
        "not-a-key-and-no-jwt-configured",
        '{"$ne": null}',  # an operator where a key goes
    ],
)
async def test_a_bad_key_is_401(app: Starlette, credential: str) -> None:
    async with anonymous(app) as client:
        for headers in (bearer(credential), {"x-api-key": credential}):
            answer_ = await post(client, METRIC, headers)
            assert (answer_.status_code, code_of(answer_)) == (401, "UNAUTHENTICATED")


async def test_a_key_works_by_either_header_and_is_stored_only_as_a_hash(
    app: Starlette, db: Any
) -> None:
    key = await api_key(app, scopes=["metrics:read"])
    async with anonymous(app) as client:
        assert (await post(client, METRIC, bearer(key))).status_code == 200
        assert (await post(client, METRIC, {"x-api-key": key})).status_code == 200
    stored = await db.api_keys.find_one({"_id": key.split("_")[1]})
    secret = key.split("_", 2)[2]
    assert secret not in str(stored) and key not in str(stored)
    assert stored["tenant"] == "default" and stored["scopes"] == ["metrics:read"]


async def test_a_revoked_key_stops_working_within_the_cache_time(mongo_uri: str) -> None:
    async with running_app(make_settings(mongo_uri, auth_cache_s=0.3)) as app:
        key = await api_key(app)
        async with anonymous(app) as client:
            assert (await post(client, METRIC, bearer(key))).status_code == 200
            assert await stored_keys.revoke(app.state.cx.mongo, key.split("_")[1])
            await asyncio.sleep(0.4)
            answer_ = await post(client, METRIC, bearer(key))
            assert (answer_.status_code, code_of(answer_)) == (401, "UNAUTHENTICATED")


# -- JWTs -------------------------------------------------------------------------------------


def token(key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": "u1",
        "tenant": "default",
        "scope": "metrics:read",
        "exp": now + timedelta(minutes=5),
        "aud": "dashboards",
        "iss": "idp",
        **claims,
    }
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key,
                      algorithm=algorithm)  # fmt: skip


@pytest.fixture
async def hs_app(mongo_uri: str) -> AsyncIterator[Starlette]:
    settings = make_settings(mongo_uri, jwt_secret=SECRET, jwt_audience="dashboards",
                             jwt_issuer="idp", jwt_leeway_s=5)  # fmt: skip
    async with running_app(settings) as application:
        yield application


async def test_a_valid_hs256_token_acts_for_its_tenant_with_its_scopes(hs_app: Starlette) -> None:
    async with anonymous(hs_app) as client:
        ok = await post(client, BOTH, bearer(token()))
        assert ok.status_code == 200
        body = ok.json()
        assert body["data"]["metric"] == {"n": 0}
        assert body["data"]["customers"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


def _expired() -> str:
    return token(exp=datetime.now(UTC) - timedelta(minutes=1))


def _not_yet() -> str:
    return token(nbf=datetime.now(UTC) + timedelta(minutes=1))


def _none_alg() -> str:
    return jwt.encode({"sub": "u", "tenant": "default", "scope": "admin", "aud": "dashboards",
                       "iss": "idp", "exp": datetime.now(UTC) + timedelta(minutes=5)},
                      None, algorithm="none")  # fmt: skip


@pytest.mark.parametrize(
    "make",
    [
        lambda: token(key="a-different-secret-that-is-also-long-enough!"),  # forged
        _expired,
        _not_yet,
        lambda: token(aud="someone-else"),
        lambda: token(iss="another-idp"),
        lambda: token(exp=None),  # no expiry
        lambda: token(tenant=None),  # no tenant
        lambda: token(scope="metrics:read superuser"),  # an unknown scope
        _none_alg,
    ],
    ids=[
        "forged",
        "expired",
        "not-yet-valid",
        "audience",
        "issuer",
        "no-exp",
        "no-tenant",
        "unknown-scope",
        "alg-none",
    ],
)
async def test_a_bad_token_is_401(hs_app: Starlette, make: Any) -> None:
    async with anonymous(hs_app) as client:
        answer_ = await post(client, METRIC, bearer(make()))
        assert (answer_.status_code, code_of(answer_)) == (401, "UNAUTHENTICATED"), answer_.text


async def test_rs256_and_es256_verify_and_hs_rs_confusion_is_refused(mongo_uri: str) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = make_settings(mongo_uri, jwt_public_key=public_pem, jwt_audience="dashboards")
    async with running_app(settings) as app, anonymous(app) as client:
        assert (await post(client, METRIC, bearer(token(rsa_key, "RS256")))).status_code == 200
        # The classic confusion: HS256 "signed" with the public key as the shared secret.
        confused = jwt.api_jws.PyJWS()
        confused._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]
        claims = {"sub": "x", "tenant": "default", "scope": "admin", "aud": "dashboards",
                  "exp": int(time.time()) + 300}  # fmt: skip
        import json

        forged = confused.encode(json.dumps(claims).encode(), public_pem.encode(), "HS256")
        answer_ = await post(client, METRIC, bearer(forged))
        assert (answer_.status_code, code_of(answer_)) == (401, "UNAUTHENTICATED")

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_pem = (
        ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = make_settings(mongo_uri, jwt_public_key=ec_pem, jwt_audience="dashboards")
    async with running_app(settings) as app, anonymous(app) as client:
        assert (await post(client, METRIC, bearer(token(ec_key, "ES256")))).status_code == 200


# -- scopes, per field ---------------------------------------------------------------------------


async def test_each_field_checks_its_scope(app: Starlette) -> None:
    async with http_client(app, scopes=["metrics:read"]) as reader:
        body = (await post(reader, BOTH)).json()
        assert body["data"]["metric"] == {"n": 0}
        assert body["data"]["customers"] is None
        (error,) = body["errors"]
        assert error["path"] == ["customers"]
        assert error["extensions"] == {"code": "FORBIDDEN", "scope": "data:read"}
        assert "data:read" in error["message"]
        wrote = (await post(reader, UPSERT, variables={"input": [customer("c1")]})).json()
        assert wrote["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        ndjson = await reader.post("/ingest/customers", content=b"{}\n",
                                   headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert (ndjson.status_code, code_of(ndjson)) == (403, "FORBIDDEN")
        assert (await reader.get("/metrics")).status_code == 403
    async with http_client(app, scopes=["data:read"]) as records:
        body = (await post(records, BOTH)).json()
        assert body["data"]["customers"] == {"edges": []}
        assert body["data"]["metric"] is None
    async with http_client(app, scopes=["admin"]) as admin:
        assert (await admin.get("/metrics")).status_code == 200


# -- tenants ------------------------------------------------------------------------------------


async def test_two_tenants_with_the_same_keys_share_nothing(app: Starlette) -> None:
    records = [customer("c1", name="Ada", segments=["vip"]), customer("c2")]
    answers = {"A": [nps(10)], "B": [nps(0), nps(1)]}
    async with http_client(app, tenant="A") as a, http_client(app, tenant="B") as b:
        ids = {}
        for name, client in (("A", a), ("B", b)):
            wrote = await gql_ok(client, UPSERT, {"input": records})
            ids[name] = [r["id"] for r in wrote["upsertCustomers"]["results"]]
            assert [r["status"] for r in wrote["upsertCustomers"]["results"]] == ["INSERTED"] * 2
            await gql_ok(client, RESPOND, {"input": [
                response(f"r{i}", "c1", answers=[a_]) for i, a_ in enumerate(answers[name])
            ]})  # fmt: skip
        assert ids["A"] != ids["B"]  # the same (source, externalId), two records
        # metrics, asked twice (the second from the cache), count each tenant's own
        march = """{ metric(kind: NPS, window: {from: "2026-02-01T00:00:00Z",
                                               to: "2026-04-01T00:00:00Z"}) { n } }"""
        for _ in range(2):
            assert (await gql_ok(a, march))["metric"]["n"] == 1
            assert (await gql_ok(b, march))["metric"]["n"] == 2
        # by id, by ref and by cursor, A never reaches B's records
        by_id = "query($id: ID!) { customer(id: $id) { externalId } }"
        assert (await gql_ok(a, by_id, {"id": ids["B"][0]}))["customer"] is None
        assert (await gql_ok(a, by_id, {"id": ids["A"][0]}))["customer"] == {"externalId": "c1"}
        by_ref = """{ customer(ref: {source: "crm", externalId: "c1"}) { id } }"""
        assert (await gql_ok(a, by_ref))["customer"] == {"id": ids["A"][0]}
        page = """query($after: String) {
          customers(first: 1, after: $after) { edges { cursor node { id } } } }"""
        first_b = (await gql_ok(b, page))["customers"]["edges"][0]
        from_a = (await gql_ok(a, page, {"after": first_b["cursor"]}))["customers"]["edges"]
        assert all(e["node"]["id"] in ids["A"] for e in from_a)
        # an argument or header naming another tenant changes nothing
        spoof = await post(a, march, {"x-tenant": "B", "x-cx-tenant": "B"})
        assert spoof.json()["data"]["metric"]["n"] == 1
        # NDJSON too
        line = b'{"source": "crm", "externalId": "c3"}\n'
        wrote = await a.post("/ingest/customers", content=line,
                             headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert wrote.status_code == 200
        count = "{ customers(first: 10) { edges { node { externalId } } } }"
        assert len((await gql_ok(a, count))["customers"]["edges"]) == 3
        assert len((await gql_ok(b, count))["customers"]["edges"]) == 2


# -- limits -------------------------------------------------------------------------------------


async def test_an_oversized_body_is_413_before_it_is_parsed(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, max_body_bytes=4096)
    async with serving(settings) as (_, client):
        big = await post(client, "{ journeys { key } }" + " " * 5000)
        assert (big.status_code, code_of(big)) == (413, "PAYLOAD_TOO_LARGE")
        garbage = await client.post("/graphql", content=b"{" * 5000,
                                    headers={"content-type": "application/json"})  # fmt: skip
        assert garbage.status_code == 413
        assert (await post(client, "{ journeys { key } }")).status_code == 200


async def test_a_credential_over_its_rate_is_429_with_retry_after(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, rate_limit_per_minute=3)
    async with running_app(settings) as app, http_client(app) as first, http_client(app) as second:
        statuses = [(await post(first, METRIC)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await post(first, METRIC)
        assert code_of(refused) == "RATE_LIMITED"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert (await post(second, METRIC)).status_code == 200  # another credential


async def test_with_redis_down_the_limit_falls_back_to_the_process(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, rate_limit_per_minute=2, rate_limit_storage="redis",
                             redis_url="redis://127.0.0.1:1/0")  # fmt: skip
    async with serving(settings) as (_, client):
        statuses = [(await post(client, METRIC)).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


async def test_a_shared_redis_limit_holds_across_two_replicas(mongo_uri: str) -> None:
    import redis.asyncio as aioredis

    probe = aioredis.Redis.from_url("redis://127.0.0.1:6379/14", socket_connect_timeout=0.5)
    try:
        await probe.ping()
    except Exception as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({exc!r})")
    finally:
        await probe.aclose()
    settings = make_settings(mongo_uri, rate_limit_per_minute=3, rate_limit_storage="redis",
                             redis_url="redis://127.0.0.1:6379/14")  # fmt: skip
    async with running_app(settings) as one, running_app(settings) as two:
        key = await api_key(one)
        async with anonymous(one) as a, anonymous(two) as b:
            statuses = [(await post(c, METRIC, bearer(key))).status_code for c in (a, b, a, b)]
    assert statuses == [200, 200, 200, 429]


# -- anonymous access and production -------------------------------------------------------------


async def test_anonymous_access_only_when_disabled_explicitly(mongo_uri: str) -> None:
    async with running_app(make_settings(mongo_uri, auth="disabled")) as app, anonymous(app) as c:
        assert (await post(c, METRIC)).json()["data"] == {"metric": {"n": 0}}
    with pytest.raises(ValidationError, match="refused when CX_ENV=production"):
        Settings(env="production", auth="disabled")


async def test_production_hides_the_schema(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, env="production")
    async with serving(settings) as (_, client):
        introspection = (await post(client, "{ __schema { types { name } } }")).json()
        assert introspection.get("data") is None
        assert "introspection" in introspection["errors"][0]["message"].lower()
        typo = (await post(client, "{ journeyz { key } }")).json()
        assert "Did you mean" not in typo["errors"][0]["message"]
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    async with serving(make_settings(mongo_uri)) as (_, client):
        typo = (await post(client, "{ journeyz { key } }")).json()
        assert "Did you mean" in typo["errors"][0]["message"]  # development keeps them


async def test_an_internal_error_is_masked_with_the_request_id_of_its_log_line(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    async def broken(*args: Any) -> Any:
        raise RuntimeError("secret internals: mongodb://user:pw@host")

    monkeypatch.setattr(app.state.cx.reader, "journeys", broken)
    with caplog.at_level(logging.ERROR, logger="cxgraph.errors"):
        answer_ = await client.post("/graphql", json={"query": "{ journeys { key } }"},
                                    headers={"x-request-id": "req-123"})  # fmt: skip
    assert answer_.headers["x-request-id"] == "req-123"
    (error,) = answer_.json()["errors"]
    assert error["message"] == "internal error (request id req-123)"
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-123"}
    assert "secret internals" not in answer_.text
    logged = [r for r in caplog.records if "req-123" in r.getMessage()]
    assert logged and logged[0].exc_info is not None


# -- query cost -----------------------------------------------------------------------------------

BOMB = """{ customers(first: 500) { edges { node {
  touchpoints(first: 500) { edges { node { id } } } } } } }"""


async def test_every_answer_carries_its_cost_and_a_costly_query_is_refused_unrun(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[int] = []
    real = app.state.cx.reader.customers

    async def counting(*args: Any) -> Any:
        ran.append(1)
        return await real(*args)

    monkeypatch.setattr(app.state.cx.reader, "customers", counting)
    ok = (await post(client, "{ customers(first: 5) { edges { node { id } } } }")).json()
    assert ok["extensions"] == {"cost": 11}
    assert len(ran) == 1
    refused = (await post(client, BOMB)).json()
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == 5000
    assert error["extensions"]["cost"] == refused["extensions"]["cost"] > 5000
    assert refused.get("data") is None
    assert len(ran) == 1  # not executed


async def test_a_dry_run_answers_the_cost_without_executing(
    app: Starlette, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*args: Any) -> Any:
        raise AssertionError("a dry run executed the query")

    monkeypatch.setattr(app.state.cx.metrics, "metric", refuse)
    by_header = await client.post("/graphql", json={"query": METRIC},
                                  headers={"x-cx-dry-run": "1"})  # fmt: skip
    assert by_header.json() == {"data": None, "extensions": {"cost": 11, "dryRun": True}}
    by_extension = await client.post(
        "/graphql", json={"query": METRIC, "extensions": {"dryRun": True}}
    )
    assert by_extension.json()["extensions"] == {"cost": 11, "dryRun": True}


async def test_token_and_depth_bombs_are_refused(client: httpx.AsyncClient) -> None:
    tokens = "{ " + " ".join(["__typename"] * 6000) + " }"
    refused = (await post(client, tokens)).json()["errors"][0]
    assert refused["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"  # stopped while parsing
    assert "more than 5000 tokens" in refused["message"]
    inner = "id"
    for _ in range(5):
        inner = f"customer {{ touchpoints(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    deep = (
        f'{{ customer(id: "x") {{ touchpoints(first: 1) {{ edges {{ node {{ {inner} }} }} }} }} }}'
    )
    body = (await post(client, deep)).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: metric(kind: NPS) {{ n }}" for i in range(40)) + " }"
    body = (await post(client, aliases)).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- transport rules: content types, GET, batches, CORS, the access log --------------------------


async def test_only_json_posts_and_get_queries(client: httpx.AsyncClient) -> None:
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    form = await client.post("/graphql", content=b"query=%7B__typename%7D", headers=form_type)
    assert (form.status_code, code_of(form)) == (415, "UNSUPPORTED_MEDIA_TYPE")
    plain = await client.post("/graphql", content=b'{"query": "{ __typename }"}',
                              headers={"content-type": "text/plain"})  # fmt: skip
    assert plain.status_code == 415
    graphql_json = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json",
                 "accept": "application/graphql-response+json"},
    )  # fmt: skip
    assert graphql_json.status_code == 200
    got = await client.get("/graphql", params={"query": "{ metric(kind: NPS) { n } }"})
    assert got.json()["data"] == {"metric": {"n": 0}}
    mutation = "mutation { upsertCustomers(input: []) { dataVersion } }"
    refused = await client.get("/graphql", params={"query": mutation})
    assert refused.status_code == 400  # strawberry refuses a mutation over GET
    assert "mutations are not allowed when using get" in refused.text.lower()


async def test_a_batch_of_operations_is_refused(client: httpx.AsyncClient) -> None:
    batch = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 2)
    assert (batch.status_code, code_of(batch)) == (400, "BATCH_NOT_ALLOWED")


async def test_cors_is_off_unless_origins_are_listed(mongo_uri: str) -> None:
    preflight = {"origin": "https://dash.example", "access-control-request-method": "POST"}
    async with serving(make_settings(mongo_uri)) as (_, client):
        answer_ = await client.options("/graphql", headers=preflight)
        assert "access-control-allow-origin" not in answer_.headers
    listed = make_settings(mongo_uri, cors_origins="https://dash.example")
    async with serving(listed) as (_, client):
        answer_ = await client.options("/graphql", headers=preflight)
        assert answer_.headers["access-control-allow-origin"] == "https://dash.example"
        other = await client.options("/graphql", headers={**preflight, "origin": "https://evil"})
        assert "access-control-allow-origin" not in other.headers


async def test_one_json_access_line_per_request_without_secrets(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    key = await api_key(app, tenant="acme", scopes=["metrics:read"])
    async with anonymous(app) as client:
        with caplog.at_level(logging.INFO, logger="cxgraph.access"):
            await client.post("/graphql", json={"query": "query Dash { metric(kind: NPS) { n } }",
                                                "operationName": "Dash"},
                              headers={**bearer(key), "x-request-id": "r-1"})  # fmt: skip
    import json

    (line,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "cxgraph.access"]
    assert line["requestId"] == "r-1"
    assert line["credential"] == f"key:{key.split('_')[1]}"
    assert (line["tenant"], line["operation"], line["cost"]) == ("acme", "Dash", 11)
    assert (line["status"], line["outcome"]) == (200, "ok")
    assert key.split("_", 2)[2] not in caplog.text


async def test_a_credential_over_its_cost_budget_is_429(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, rate_limit_cost_per_minute=30)
    async with serving(settings) as (_, client):
        costs = []
        for _ in range(3):  # 11 each: the third passes the budget of 30
            answer_ = await post(client, METRIC)
            costs.append((answer_.status_code, answer_.json()["extensions"]["cost"]))
        assert costs == [(200, 11), (200, 11), (429, 11)]
        assert code_of(answer_) == "RATE_LIMITED"
        assert "CX_RATE_LIMIT_COST_PER_MINUTE" in answer_.json()["errors"][0]["message"]
        assert 1 <= int(answer_.headers["retry-after"]) <= 60


MARCH = '{from: "2026-02-01T00:00:00Z", to: "2026-04-01T00:00:00Z"}'
EVERY_READ = f"""{{
  journeys {{ key stages {{ key metric(kind: NPS, window: {MARCH}) {{ n }} }} }}
  journey(key: "onboarding") {{ key }}
  customers(first: 10) {{ edges {{ node {{ externalId touchpoints(first: 10) {{
    edges {{ node {{ externalId }} }} }} }} }} }}
  touchpoints(first: 10) {{ edges {{ node {{ externalId }} }} }}
  surveyResponses(first: 10) {{ edges {{ node {{ externalId }} }} }}
  metric(kind: NPS, window: {MARCH}) {{ n }}
  breakdown(kind: NPS, by: [SEGMENT], window: {MARCH}) {{ keys {{ value }} result {{ n }} }}
  trend(kind: NPS, granularity: MONTH, window: {MARCH}) {{ result {{ n }} }}
  compare(kind: NPS, a: {{window: {MARCH}}}, b: {{window: {MARCH}}}) {{ a {{ n }} }}
  journeyFunnel(journey: "onboarding", window: {MARCH}) {{ stage customers }}
  segments {{ key customers }}
}}"""


async def test_every_query_answers_only_from_its_own_tenant(app: Starlette) -> None:
    """The same records (same source and external ids) in two tenants, in different
    amounts: every query field answers tenant A's, whatever B holds."""
    from tests.integration.builders import define_journey, record_touchpoints, touchpoint

    async with http_client(app, tenant="A") as a, http_client(app, tenant="B") as b:
        for client, n in ((a, 1), (b, 3)):
            await define_journey(client)
            await gql_ok(client, UPSERT, {"input": [customer(f"c{i}", segments=["vip"])
                                                    for i in range(n)]})  # fmt: skip
            await record_touchpoints(client, [
                touchpoint(f"t{i}", f"c{i}", journey="onboarding", stage="signup")
                for i in range(n)
            ])  # fmt: skip
            await submit_responses_for(client, n)
        alone = await post(a, EVERY_READ)
        assert "errors" not in alone.json(), alone.text
        data = alone.json()["data"]
        assert len(data["touchpoints"]["edges"]) == 1 and data["metric"] == {"n": 1}
        assert data["segments"] == [{"key": "vip", "customers": 1}]

    # A's answers equal those of an app that never saw tenant B at all
    settings = make_settings(app.state.cx.settings.mongo_uri)
    async with running_app(settings) as clean, http_client(clean, tenant="A") as only:
        await define_journey(only)
        await gql_ok(only, UPSERT, {"input": [customer("c0", segments=["vip"])]})
        await record_touchpoints(only, [touchpoint("t0", "c0", journey="onboarding",
                                                   stage="signup")])  # fmt: skip
        await submit_responses_for(only, 1)
        expected = await post(only, EVERY_READ)
    assert _without_ids(alone.json()) == _without_ids(expected.json())


async def submit_responses_for(client: httpx.AsyncClient, n: int) -> None:
    await gql_ok(client, RESPOND, {"input": [
        response(f"r{i}", f"c{i}", answers=[nps(9)], journey="onboarding", stage="signup")
        for i in range(n)
    ]})  # fmt: skip


def _without_ids(body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    body.pop("extensions", None)
    return body
