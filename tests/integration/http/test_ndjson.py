"""POST /ingest/{collection}: NDJSON bulk ingestion, streamed per-record results."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo.errors import ServerSelectionTimeoutError
from starlette.applications import Starlette

from service.domain.ids import record_id
from service.http import ndjson
from tests.conftest import api_key
from tests.integration.builders import (
    SOURCE,
    all_docs,
    answer,
    customer,
    data_version,
    define_journey,
    nps,
    ref,
    response,
    submit_responses,
    touchpoint,
    upsert_customers,
)

NDJSON = "application/x-ndjson"
VOLATILE = ("_id", "externalId", "writeId", "createdAt", "updatedAt")


def body_of(records: list[Any]) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records
    )


async def post(
    client: httpx.AsyncClient, collection: str, body: bytes, content_type: str = NDJSON
) -> httpx.Response:
    return await client.post(
        f"/ingest/{collection}", content=body, headers={"content-type": content_type}
    )


def lines_of(reply: httpx.Response) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The result lines and the final line of a streamed answer."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == NDJSON
    assert reply.text.endswith("\n")
    *results, summary = [json.loads(line) for line in reply.text.splitlines()]
    return results, summary


def inserted(index: int, external_id: str, collection: str = "survey_responses") -> dict[str, Any]:
    return {
        "index": index,
        "externalId": external_id,
        "status": "INSERTED",
        "id": record_id(collection, "default", SOURCE, external_id),
        "error": None,
    }


def rejected(
    index: int, external_id: str | None, code: str, field: str | None, message: str
) -> dict[str, Any]:
    return {
        "index": index,
        "externalId": external_id,
        "status": "REJECTED",
        "id": None,
        "error": {"code": code, "field": field, "message": message},
    }


def full_response(external_id: str) -> dict[str, Any]:
    return response(
        external_id,
        "c1",
        submitted_at="2026-03-02T09:15:00-05:00",
        answers=[
            nps(10),
            answer("CSAT", 4.5, 1, 5),
            answer("COMPONENT", 2, 1, 7, component="PRICE"),
        ],
        touchpoint=ref("t1"),
        journey="onboarding",
        stage="checkout",
        channel="EMAIL",
        comment="Great checkout",
    )


@pytest.fixture(autouse=True)
async def journey(client: httpx.AsyncClient) -> None:
    await define_journey(client)


async def test_responses_land_and_are_stored_like_the_mutation_stores_them(
    client: httpx.AsyncClient, db: Any
) -> None:
    await upsert_customers(client, [customer("c1", segments=["vip", "smb"])])
    before = await data_version(client)

    results, summary = lines_of(
        await post(client, "survey-responses", body_of([full_response("n1"), response("n2")]))
    )

    assert results == [inserted(0, "n1"), inserted(1, "n2")]
    assert summary == {
        "dataVersion": before + 1, "inserted": 2, "updated": 0, "unchanged": 0, "rejected": 0,
    }  # fmt: skip
    stored = await db.survey_responses.find_one({"externalId": "n1"})
    assert {k: v for k, v in stored.items() if k not in ("writeId", "createdAt", "updatedAt")} == {
        "_id": record_id("survey_responses", "default", SOURCE, "n1"),
        "tenant": "default",
        "source": SOURCE,
        "externalId": "n1",
        "contentHash": stored["contentHash"],
        "customerRef": {"source": SOURCE, "externalId": "c1"},
        "touchpointRef": {"source": SOURCE, "externalId": "t1"},
        "journey": "onboarding",
        "stage": "checkout",
        "channel": "EMAIL",
        "submittedAt": datetime(2026, 3, 2, 14, 15, tzinfo=UTC),
        "answers": [
            {"question": "nps question", "metric": "NPS", "value": 10,
             "scale": {"min": 0, "max": 10}, "component": None},
            {"question": "csat question", "metric": "CSAT", "value": 4.5,
             "scale": {"min": 1, "max": 5}, "component": None},
            {"question": "component question", "metric": "COMPONENT", "value": 2,
             "scale": {"min": 1, "max": 7}, "component": "PRICE"},
        ],
        "comment": "Great checkout",
        "commentTerms": ["great", "checkout"],  # its words, for search
        "customerId": record_id("customers", "default", SOURCE, "c1"),
        "touchpointId": record_id("touchpoints", "default", SOURCE, "t1"),
        "segments": ["smb", "vip"],
    }  # fmt: skip
    # The same record through the mutation stores the same document, content hash included.
    await submit_responses(client, [full_response("g1")])
    via_graphql = await db.survey_responses.find_one({"externalId": "g1"})

    def comparable(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if k not in VOLATILE}

    assert comparable(via_graphql) == comparable(stored)


async def test_customers_and_touchpoints_have_their_endpoints(
    client: httpx.AsyncClient, db: Any
) -> None:
    people = [
        customer("c1", name="Sara", segments=["vip", "smb", "vip"], attributes={"$where": 1}),
        customer("c2", signedUpAt="2026-01-02T03:04:05+03:30", revenue=12),
    ]
    results, summary = lines_of(await post(client, "customers", body_of(people)))
    assert results == [inserted(0, "c1", "customers"), inserted(1, "c2", "customers")]
    assert summary["inserted"] == 2
    c1, c2 = await all_docs(db.customers)
    c1, c2 = sorted((c1, c2), key=lambda d: d["externalId"])
    assert (c1["name"], c1["segments"], c1["attributes"]) == (
        "Sara",
        ["smb", "vip"],
        {"%24where": 1},
    )
    assert (c2["signedUpAt"], c2["revenue"]) == (datetime(2026, 1, 1, 23, 34, 5, tzinfo=UTC), 12.0)

    visits = [touchpoint("t1", "c1", channel="CHAT"), touchpoint("t2", "c9", kind="call")]
    results, summary = lines_of(await post(client, "touchpoints", body_of(visits)))
    assert results == [inserted(0, "t1", "touchpoints"), inserted(1, "t2", "touchpoints")]
    assert summary["inserted"] == 2
    t1, t2 = sorted(await all_docs(db.touchpoints), key=lambda d: d["externalId"])
    assert (t1["channel"], t1["segments"], t2["kind"]) == ("CHAT", ["smb", "vip"], "call")
    stub = await db.customers.find_one({"externalId": "c9"})
    assert stub["stub"] is True  # an unknown customer becomes a stub, as with the mutation


async def test_a_resent_body_is_all_unchanged(client: httpx.AsyncClient, db: Any) -> None:
    body = body_of(
        [full_response("n1"), response("n2"), response("n3", submitted_at="2026-03-03T00:00:00Z")]
    )
    first_results, first = lines_of(await post(client, "survey-responses", body))
    stored = await all_docs(db.survey_responses)

    results, summary = lines_of(await post(client, "survey-responses", body))

    assert [r["status"] for r in first_results] == ["INSERTED"] * 3
    assert results == [
        {**inserted(i, e), "status": "UNCHANGED"} for i, e in enumerate(["n1", "n2", "n3"])
    ]
    assert summary == {
        "dataVersion": first["dataVersion"], "inserted": 0, "updated": 0, "unchanged": 3,
        "rejected": 0,
    }  # fmt: skip
    assert await all_docs(db.survey_responses) == stored


async def test_bad_lines_are_rejected_and_the_rest_land(client: httpx.AsyncClient, db: Any) -> None:
    before = await data_version(client)
    body = body_of([
        response("n1"),
        b'{"source": "crm", "externalId": ',
        response("n2"),
        response("n3", answers=[answer("CSAT", 9, 1, 5)]),
        b"[1, 2]",
        b'"just a string"',
        b"null",
        b'{"source": "crm", "externalId": "n4", "value": NaN}',
        b"\xff\xfe{}",
        response("n5", channel="FAX"),
        {**response("n6"), "color": "blue"},
        response("n7"),
    ])  # fmt: skip

    results, summary = lines_of(await post(client, "survey-responses", body))

    assert results == [
        inserted(0, "n1"),
        rejected(1, None, "INVALID_JSON", None,
                 "the line is not valid JSON: Expecting value"),
        inserted(2, "n2"),
        rejected(3, "n3", "VALUE_OUT_OF_SCALE", "answers[0].value",
                 "value 9 is outside the scale 1-5"),
        rejected(4, None, "WRONG_TYPE", None, "a record must be a JSON object, not an array"),
        rejected(5, None, "WRONG_TYPE", None, "a record must be a JSON object, not a string"),
        rejected(6, None, "WRONG_TYPE", None, "a record must be a JSON object, not null"),
        rejected(7, None, "INVALID_JSON", None, "the line is not valid JSON: NaN is not JSON"),
        rejected(8, None, "INVALID_JSON", None,
                 "the line is not UTF-8 text (byte 0: invalid start byte)"),
        rejected(9, "n5", "INVALID_ENUM", "channel",
                 "channel must be one of CHAT, EMAIL, MOBILE_APP, OTHER, PHONE, SOCIAL, STORE, "
                 "WEB"),
        rejected(10, "n6", "UNKNOWN_FIELD", "color", "unknown field color"),
        inserted(11, "n7"),
    ]  # fmt: skip
    assert summary == {
        "dataVersion": before + 1, "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 9,
    }  # fmt: skip
    assert [d["externalId"] for d in await all_docs(db.survey_responses)] == sorted(
        ["n1", "n2", "n7"], key=lambda e: record_id("survey_responses", "default", SOURCE, e)
    )


async def test_empty_lines_are_skipped_and_not_counted(client: httpx.AsyncClient) -> None:
    body = (
        b"\xef\xbb\xbf\n"  # a UTF-8 byte order mark, then an empty line
        + json.dumps(response("n1")).encode()
        + b"\r\n   \n\t\r\n"
        + json.dumps(response("n2")).encode()
        + b"\n\n"
        + json.dumps(response("n3")).encode()  # the last line needs no newline
    )
    results, summary = lines_of(await post(client, "survey-responses", body))
    assert results == [inserted(0, "n1"), inserted(1, "n2"), inserted(2, "n3")]
    assert (summary["inserted"], summary["rejected"]) == (3, 0)


async def test_an_empty_body_reports_the_data_version(client: httpx.AsyncClient) -> None:
    version = await data_version(client)
    for body in (b"", b"\n\n  \n"):
        reply = await post(client, "customers", body)
        assert reply.status_code == 200
        assert reply.text == (
            f'{{"dataVersion":{version},"inserted":0,"updated":0,"unchanged":0,"rejected":0}}\n'
        )


async def test_a_charset_parameter_is_accepted(client: httpx.AsyncClient) -> None:
    reply = await post(client, "customers", body_of([customer("c1")]), f"{NDJSON}; charset=utf-8")
    results, _ = lines_of(reply)
    assert results == [inserted(0, "c1", "customers")]


async def test_an_unknown_collection_is_404(client: httpx.AsyncClient) -> None:
    reply = await post(client, "journeys", body_of([{"key": "x"}]))
    assert reply.status_code == 404
    assert reply.json() == {
        "errors": [{
            "message": "unknown collection 'journeys'; "
            "one of customers, touchpoints, survey-responses",
            "extensions": {"code": "NOT_FOUND"},
        }]
    }  # fmt: skip


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
async def test_another_content_type_is_415(
    client: httpx.AsyncClient, db: Any, content_type: str
) -> None:
    reply = await post(client, "customers", body_of([customer("c1")]), content_type)
    assert reply.status_code == 415
    assert reply.json() == {
        "errors": [{
            "message": "send the records as application/x-ndjson, one JSON object per line",
            "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE"},
        }]
    }  # fmt: skip
    assert await db.customers.count_documents({}) == 0


async def test_only_post_is_routed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ingest/customers")).status_code == 405


# --- bodies larger than one chunk (CX_MAX_BATCH = 5) --------------------------------------


async def asgi_post(
    app: Starlette, path: str, body: bytes, on_piece: Any
) -> tuple[int, list[bytes]]:
    """POST straight to the ASGI app, keeping each body message the app sends (httpx's
    ASGITransport joins them) and calling ``on_piece`` as each one arrives."""
    key = (await api_key(app)).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("cxgraph.test", 80),
        "headers": [(b"host", b"cxgraph.test"), (b"content-type", NDJSON.encode()),
                    (b"authorization", b"Bearer " + key)],
    }  # fmt: skip
    status = 0
    pieces: list[bytes] = []
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Future()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message.get("body"):
            pieces.append(message["body"])
            await on_piece(message["body"])

    await app(scope, receive, send)
    return status, pieces


async def test_a_body_of_several_chunks_streams_each_chunk_as_it_is_written(
    small_client: httpx.AsyncClient, small_app: Starlette
) -> None:
    await define_journey(small_client)
    before = await data_version(small_client)
    records: list[Any] = [response(f"n{i:02d}") for i in range(12)]
    records[6] = b"{oops"
    db = small_app.state.cx.mongo.db
    stored_when_sent: list[int] = []

    async def on_piece(piece: bytes) -> None:
        stored_when_sent.append(await db.survey_responses.count_documents({}))

    status, pieces = await asgi_post(
        small_app, "/ingest/survey-responses", body_of(records), on_piece
    )

    assert status == 200
    # one piece per chunk of 5 records, in input order, sent before the next chunk is
    # written; then the final line
    decoded = [[json.loads(line) for line in p.decode().splitlines()] for p in pieces]
    assert [[r.get("index") for r in piece] for piece in decoded] == [
        [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11], [None],
    ]  # fmt: skip
    assert stored_when_sent == [5, 9, 11, 11]
    assert [r["status"] for piece in decoded[:3] for r in piece] == (
        ["INSERTED"] * 6 + ["REJECTED"] + ["INSERTED"] * 5
    )
    assert decoded[1][1] == rejected(
        6, None, "INVALID_JSON", None, "the line is not valid JSON: Expecting property name "
        "enclosed in double quotes"
    )  # fmt: skip
    assert decoded[3] == [{
        "dataVersion": before + 3, "inserted": 11, "updated": 0, "unchanged": 0, "rejected": 1,
    }]  # fmt: skip


async def test_a_duplicate_anywhere_in_the_body_rejects_every_copy(
    small_client: httpx.AsyncClient, small_app: Starlette
) -> None:
    await define_journey(small_client)
    records = [response(f"n{i}") for i in range(8)]
    records[7] = response("n1", answers=[nps(3)])  # n1 again, in the second chunk
    results, summary = lines_of(await post(small_client, "survey-responses", body_of(records)))
    message = (
        "externalId 'n1' of this source is also at index {} of this body; "
        "send one version of a record per request"
    )
    assert results[1] == rejected(1, "n1", "DUPLICATE_IN_BATCH", "externalId", message.format(7))
    assert results[7] == rejected(7, "n1", "DUPLICATE_IN_BATCH", "externalId", message.format(1))
    assert [r["status"] for r in results] == ["INSERTED", "REJECTED"] + ["INSERTED"] * 5 + [
        "REJECTED"
    ]
    assert (summary["inserted"], summary["rejected"]) == (6, 2)
    db = small_app.state.cx.mongo.db
    assert await db.survey_responses.count_documents({"externalId": "n1"}) == 0


async def test_up_to_100_chunks_are_taken(small_client: httpx.AsyncClient) -> None:
    records = [customer(f"c{i}") for i in range(5 * ndjson.MAX_CHUNKS)]
    results, summary = lines_of(await post(small_client, "customers", body_of(records)))
    assert len(results) == 500
    assert (summary["inserted"], summary["rejected"]) == (500, 0)


async def test_more_than_100_chunks_is_413_and_stores_nothing(
    small_client: httpx.AsyncClient, small_app: Starlette
) -> None:
    records = [customer(f"c{i}") for i in range(5 * ndjson.MAX_CHUNKS + 1)]
    reply = await post(small_client, "customers", body_of(records))
    assert reply.status_code == 413
    assert reply.json() == {
        "errors": [{
            "message": "the body has more than 500 records (100 chunks of CX_MAX_BATCH = 5); "
            "nothing was stored: split it into bodies of at most 500 records",
            "extensions": {"code": "BATCH_TOO_LARGE"},
        }]
    }  # fmt: skip
    assert await small_app.state.cx.mongo.db.customers.count_documents({}) == 0


async def test_an_overlong_line_is_413(
    client: httpx.AsyncClient, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 100)
    body = body_of([customer("c1"), customer("c2", name="x" * 100)])
    reply = await post(client, "customers", body)
    assert reply.status_code == 413
    assert reply.json()["errors"][0] == {
        "message": "the record at index 1 is longer than 100 bytes; nothing was stored",
        "extensions": {"code": "PAYLOAD_TOO_LARGE"},
    }
    assert await db.customers.count_documents({}) == 0


async def test_an_oversized_body_is_413(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ndjson, "MAX_BODY_BYTES", 50)
    reply = await post(client, "customers", body_of([customer("c1"), customer("c2")]))
    assert reply.status_code == 413
    assert reply.json()["errors"][0]["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}


# --- failures -----------------------------------------------------------------------------


async def test_a_database_failure_before_any_result_is_503(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(tenant: str, records: Any) -> Any:
        raise ServerSelectionTimeoutError("no server")

    monkeypatch.setattr(app.state.cx.ingestor, "upsert_customers", unavailable)
    reply = await post(client, "customers", body_of([customer("c1")]))
    assert reply.status_code == 503
    assert reply.json() == {
        "errors": [{
            "message": "the database is unavailable; retry shortly",
            "extensions": {"code": "UNAVAILABLE"},
        }]
    }  # fmt: skip


async def test_a_failure_after_the_first_chunk_ends_the_stream_with_an_error_line(
    small_client: httpx.AsyncClient, small_app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingestor = small_app.state.cx.ingestor
    real = ingestor.upsert_customers
    calls = 0

    async def fails_second_time(tenant: str, records: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("boom")
        return await real(tenant, records)

    monkeypatch.setattr(ingestor, "upsert_customers", fails_second_time)
    records = [customer(f"c{i}") for i in range(12)]
    reply = await post(small_client, "customers", body_of(records))

    assert reply.status_code == 200
    lines = [json.loads(line) for line in reply.text.splitlines()]
    assert [line.get("index") for line in lines[:5]] == [0, 1, 2, 3, 4]
    assert lines[5:] == [
        {
            "errors": [
                {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
            ]
        }
    ]
    assert await small_app.state.cx.mongo.db.customers.count_documents({}) == 5
