"""Issue 13's worked examples, through GraphQL, with the expected numbers worked by hand.

Each data set is the smallest one that shows the old definition misleading; the numbers in
the assertions are computed in the comments, not read from the service or the oracle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.graphql import gql_ok
from tests.integration.metric_data import METRIC, SOURCE, MetricData, load, window_input

JAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))


def jan(day: int, hour: int = 0) -> str:
    return datetime(2026, 1, day, hour, tzinfo=UTC).isoformat()


def customer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"source": SOURCE, "externalId": external_id, **fields}


async def metric(
    client: httpx.AsyncClient, kind: str, window: tuple[datetime, datetime]
) -> dict[str, Any]:
    variables = {"kind": kind, "window": window_input(window), "filter": None,
                 "source": "AUTO", "v": None}  # fmt: skip
    result: dict[str, Any] = (await gql_ok(client, METRIC, variables))["metric"]
    return result


# --------------------------------------------------------------------------- retention


async def test_retention_is_of_the_starting_cohort(client: httpx.AsyncClient) -> None:
    # 10 customers at the start of January, 5 of whom churn in January, and 10 who sign up
    # and churn within January
    staying = [customer(f"s{i}", signedUpAt="2025-06-01T00:00:00Z") for i in range(5)]
    leaving = [
        customer(f"l{i}", signedUpAt="2025-06-01T00:00:00Z", churnedAt=jan(10)) for i in range(5)
    ]
    passing = [customer(f"p{i}", signedUpAt=jan(5), churnedAt=jan(20)) for i in range(10)]
    await load(client, MetricData(customers=staying + leaving + passing))

    cohort = await metric(client, "RETENTION_RATE", JAN)
    net = await metric(client, "RETENTION_RATE_NET", JAN)
    churn = await metric(client, "CHURN_RATE", JAN)

    # S = 10, C = 5: retention (10 − 5)/10 = 50 %, churn 5/10 = 50 %, adding up to 100
    assert (cohort["value"], cohort["numerator"], cohort["denominator"], cohort["n"]) == (
        50, 5, 10, 10
    )  # fmt: skip
    assert cohort["confidenceInterval"] is not None
    assert churn["value"] == 50
    # E = 5 (the staying ones), Nw = 10: (5 − 10)/10 = −50 %, and no interval
    assert (net["value"], net["numerator"], net["denominator"]) == (-50, -5, 10)
    assert net["confidenceInterval"] is None and net["marginOfError"] is None
