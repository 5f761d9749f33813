"""The `drivers` use case: read the responses, fit off the event loop, cache the answer."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import TYPE_CHECKING

from service.domain.errors import OperationTimeout
from service.domain.metrics import drivers
from service.domain.metrics.driver_results import (
    METHOD,
    CxDriver,
    DriverAnalysisResult,
    DriversQuery,
    RatedResponse,
    Table,
    check_filter,
    check_outcome,
    drivers_of,
    shape,
    table,
)
from service.domain.metrics.drivers import BudgetSpent, Fit
from service.domain.model import MetricKind
from service.store import driver_rows

if TYPE_CHECKING:
    from service.metrics.service import MetricsService


@functools.cache
def _one_blas_thread() -> None:
    """One BLAS thread per process: a bootstrap runs in a worker thread beside the event
    loop, and a multi-threaded BLAS on a pod's few shared cores was 10–100× slower (measured
    on a 2-core machine under load), not faster."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def _fit(
    responses: list[RatedResponse],
    kind: MetricKind,
    family: str,
    names: tuple[CxDriver, ...],
    deadline: float,
) -> tuple[Table, Fit]:
    """In a worker thread: the table and the fit, off the event loop."""
    _one_blas_thread()
    t = table(responses, kind, family, names)
    return t, drivers.analyse(t.y, t.x, deadline)


async def analyse(
    metrics: MetricsService, tenant: str, q: DriversQuery, min_version: int | None
) -> DriverAnalysisResult:
    family = check_outcome(q.outcome)
    check_filter(q.filter)
    names = drivers_of(family)
    version = await metrics.data_version(tenant, min_version)
    min_sample = (await metrics.tenants.get(tenant)).min_sample
    limit = metrics.settings.drivers_max_responses
    operation = (f"drivers of {q.outcome.value} over [{q.window.start.isoformat()}, "
                 f"{q.window.end.isoformat()})")  # fmt: skip

    async def run() -> DriverAnalysisResult:
        budget = metrics.mongo.query_timeout_s
        deadline = time.monotonic() + budget
        async with metrics.mongo.budget(operation):
            responses = await driver_rows.responses(metrics.mongo, tenant, q.window, q.filter,
                                                    family, limit)  # fmt: skip
        try:
            t, fit = await asyncio.to_thread(_fit, responses, q.outcome, family, names, deadline)
        except BudgetSpent:
            raise OperationTimeout(operation, budget, "CX_MONGO_QUERY_TIMEOUT_S") from None
        return shape(q, names, t, fit, min_sample, version)

    flt = {k: None if v is None else sorted(v) for k, v in vars(q.filter).items()}
    described = {"outcome": q.outcome.value, "from": q.window.start.isoformat(),
                 "to": q.window.end.isoformat(), "filter": flt, "method": METHOD,
                 "resamples": drivers.RESAMPLES, "seed": drivers.SEED,
                 "modelShare": drivers.MODEL_SHARE}  # fmt: skip
    result: DriverAnalysisResult = await metrics._cached(tenant, version, "drivers", described, run)
    return result
