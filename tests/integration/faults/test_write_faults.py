"""A write that fails between its raw documents and its side effects is repaired.

Three faults, each at the worst moment — after the raw insert, before the rollup day and
data version bumps: the database failing, the request being cancelled (an NDJSON client
that goes away), and the process being killed. After the client's resend (or, with nobody
resending, after the write-recovery delay) rollups agree with the raw documents
(``source: AUTO`` = ``source: RAW``) and the data version has moved, so no cached answer
from before survives.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo.errors import AutoReconnect
from starlette.applications import Starlette

from service.ingest import service as ingest_service
from service.settings import Settings
from tests.conftest import make_settings, serving
from tests.graphql import gql, gql_ok
from tests.integration.builders import (
    answer,
    data_version,
    nps,
    response,
    statuses,
    submit_responses,
)

DAY = "2026-03-02"
WINDOW = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z"}
METRIC = """query($source: MetricSource!, $window: TimeWindow) {
  metric(kind: CSAT_SCORE_PERCENT, window: $window, source: $source) {
    n numerator dataVersion } }"""


def csat(external_id: str, value: int, time: str = "10:00:00") -> dict[str, Any]:
    return response(external_id, submitted_at=f"{DAY}T{time}Z",
                    answers=[answer("CSAT", value, 1, 5), nps(9)])  # fmt: skip


async def both(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any]]:
    auto = (await gql_ok(client, METRIC, {"source": "AUTO", "window": WINDOW}))["metric"]
    raw = (await gql_ok(client, METRIC, {"source": "RAW", "window": WINDOW}))["metric"]
    return auto, raw


async def assert_auto_equals_raw(client: httpx.AsyncClient, n: int) -> None:
    auto, raw = await both(client)
    assert (auto["n"], auto["numerator"]) == (raw["n"], raw["numerator"])
    assert auto["n"] == n


async def seed_and_warm(client: httpx.AsyncClient) -> int:
    """One response stored, its day materialised and the answer cached; the data version."""
    await submit_responses(client, [csat("r0", 4)])
    await assert_auto_equals_raw(client, 1)
    return await data_version(client)


def break_bumps(monkeypatch: pytest.MonkeyPatch, fault: Callable[[], Awaitable[None]]) -> list[int]:
    """Make the rollup-day bump of the next write run ``fault`` instead (once)."""
    real = ingest_service.rollups.bump_days
    calls: list[int] = []

    async def bump(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            await fault()
        await real(*args, **kwargs)

    monkeypatch.setattr(ingest_service.rollups, "bump_days", bump)
    return calls


# -- the database fails between the raw write and the bumps ------------------------------------


async def test_a_database_failure_after_the_raw_write_is_repaired_by_the_resend(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await seed_and_warm(client)

    async def fail() -> None:
        raise AutoReconnect("injected: connection lost after the raw write")

    break_bumps(monkeypatch, fail)
    failed = await gql(
        client,
        """mutation($input: [SurveyResponseInput!]!) {
        submitSurveyResponses(input: $input) { dataVersion } }""",
        {"input": [csat("r1", 2)]},
    )
    assert failed["errors"][0]["extensions"]["code"] == "UNAVAILABLE"

    resent = await submit_responses(client, [csat("r1", 2)])
    assert statuses(resent) == ["UNCHANGED"]  # the first attempt's raw write had landed
    assert resent["dataVersion"] > before
    await assert_auto_equals_raw(client, 2)
    auto, _ = await both(client)
    assert auto["numerator"] == 6.0
    assert auto["dataVersion"] == resent["dataVersion"]


# -- the request is cancelled (a client that goes away) -----------------------------------------


async def test_a_cancelled_ndjson_upload_is_repaired_by_the_resend(
    client: httpx.AsyncClient, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await seed_and_warm(client)
    reached = asyncio.Event()

    async def hang() -> None:
        reached.set()
        await asyncio.sleep(3600)

    break_bumps(monkeypatch, hang)
    body = "\n".join(json.dumps(csat(f"n{i}", 5, f"1{i}:00:00")) for i in range(3)) + "\n"
    headers = {"content-type": "application/x-ndjson"}
    upload = asyncio.create_task(
        client.post("/ingest/survey-responses", content=body, headers=headers)
    )
    await asyncio.wait_for(reached.wait(), timeout=30)
    upload.cancel()  # the raw documents are stored; the bumps never run
    with pytest.raises(asyncio.CancelledError):
        await upload
    # the fault is real: the raw documents are there, the data version did not move
    assert await db.survey_responses.count_documents({}) == 4
    assert await data_version(client) == before

    again = await client.post("/ingest/survey-responses", content=body, headers=headers)
    assert again.status_code == 200
    lines = [json.loads(line) for line in again.text.splitlines()]
    assert [line["status"] for line in lines if "status" in line] == ["UNCHANGED"] * 3
    assert await data_version(client) > before
    await assert_auto_equals_raw(client, 4)


# -- the process is killed mid-batch ------------------------------------------------------------

KILLED_WRITER = textwrap.dedent(
    """
    import asyncio, json, os, signal, sys
    from service.ingest import service as ingest_service
    from service.settings import Settings
    from service.store.client import connect

    async def main():
        settings = Settings(**json.loads(sys.argv[1]))
        mongo = connect(settings)
        ingestor = ingest_service.Ingestor(mongo, settings)

        async def die(*args, **kwargs):  # the raw write is done: die before any bump
            os.kill(os.getpid(), signal.SIGKILL)

        ingest_service.rollups.bump_days = die
        await ingestor.submit_survey_responses(settings.default_tenant, json.loads(sys.argv[2]))

    asyncio.run(main())
    """
)


async def kill_mid_batch(settings: Settings, records: list[dict[str, Any]]) -> None:
    config = {"mongo_uri": settings.mongo_uri, "mongo_db": settings.mongo_db}
    proc = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", KILLED_WRITER, json.dumps(config), json.dumps(records)],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()


async def test_a_process_killed_mid_batch_is_repaired_by_the_resend(
    client: httpx.AsyncClient, db: Any, settings: Settings
) -> None:
    before = await seed_and_warm(client)
    records = [csat("k1", 1), csat("k2", 3, "12:00:00")]
    await kill_mid_batch(settings, records)
    assert await db.survey_responses.count_documents({}) == 3  # the fault is real
    assert await data_version(client) == before

    resent = await submit_responses(client, records)
    assert statuses(resent) == ["UNCHANGED", "UNCHANGED"]
    assert resent["dataVersion"] > before
    await assert_auto_equals_raw(client, 3)


async def test_a_write_nobody_resends_is_recovered_by_itself(mongo_uri: str) -> None:
    settings = make_settings(mongo_uri, write_recovery_after_s=0.5)
    async with serving(settings) as (app, client):
        before = await seed_and_warm(client)
        await kill_mid_batch(settings, [csat("k1", 1)])
        for _ in range(100):  # the recovery runs every 0.25 s: bounded wait, not a timing claim
            if await data_version(client) > before:
                break
            await asyncio.sleep(0.1)
        assert await data_version(client) > before
        await assert_auto_equals_raw(client, 2)
        assert await app.state.cx.mongo["write_intents"].count_documents({}) == 0


async def test_recovery_leaves_a_live_write_alone_and_finished_writes_leave_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await seed_and_warm(client)
    ingestor = app.state.cx.ingestor
    assert await ingestor.recover_abandoned(timedelta(seconds=60)) == 0
    assert await app.state.cx.mongo["write_intents"].count_documents({}) == 0


async def test_a_late_customer_whose_write_failed_reaches_its_earlier_records_on_resend(
    client: httpx.AsyncClient, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The segment propagation is a side effect too: a failure after the customer landed
    must not leave the earlier responses without the customer's segments."""
    await submit_responses(client, [csat("r1", 5)])  # c1 is a stub: segments pending
    real = ingest_service.customers.apply_segments_to_pending
    calls: list[int] = []

    async def fail_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise AutoReconnect("injected: connection lost after the customer write")
        return await real(*args)

    monkeypatch.setattr(ingest_service.customers, "apply_segments_to_pending", fail_once)
    upsert = """mutation($input: [CustomerInput!]!) {
        upsertCustomers(input: $input) { dataVersion results { status } } }"""
    record = {"source": "crm", "externalId": "c1", "segments": ["vip"]}
    failed = await gql(client, upsert, {"input": [record]})
    assert failed["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    stored = await db.survey_responses.find_one({"externalId": "r1"})
    assert stored["segments"] == [] and stored["segmentsPending"] is True  # the fault is real

    again = await gql_ok(client, upsert, {"input": [record]})
    assert [r["status"] for r in again["upsertCustomers"]["results"]] == ["UNCHANGED"]
    stored = await db.survey_responses.find_one({"externalId": "r1"})
    assert stored["segments"] == ["vip"] and "segmentsPending" not in stored
