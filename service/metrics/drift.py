"""The periodic, sampled drift check: `rollups rebuild --check` on a few days at a time.

A platform team learns of rollups that disagree with their raw documents from /metrics
(``cx_rollup_drift_days``) before a user does. It only reports; `cxgraph rollups rebuild`
repairs.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field

from service.metrics import rebuild
from service.settings import Settings
from service.store import rollups, tenants
from service.store.client import Mongo
from service.tenancy.directory import TenantDirectory

log = logging.getLogger("cxgraph.drift")


@dataclass
class DriftStats:
    runs: int = 0
    days_checked: int = 0
    drifted_days: int = 0  # found by the latest run, over all tenants
    drifted: dict[str, list[str]] = field(default_factory=dict)  # tenant -> days, latest run


class DriftMonitor:
    def __init__(
        self, mongo: Mongo, settings: Settings, seed: int | None = None,
        tenants: TenantDirectory | None = None,
    ) -> None:  # fmt: skip
        self.mongo = mongo
        self.settings = settings
        self.tenants = tenants or TenantDirectory(mongo, settings)
        self.stats = DriftStats()
        self._random = random.Random(seed)

    async def run_once(self) -> DriftStats:
        found: dict[str, list[str]] = {}
        for tenant in await self._tenants():
            tz = (await self.tenants.get(tenant)).tz
            state = await rollups.state(self.mongo, tenant)
            settled = sorted(
                d for d in state.materialized if d not in set(state.stale(state.written))
            )
            sample = self._random.sample(
                settled, min(len(settled), self.settings.drift_check_sample_days)
            )
            if not sample:
                continue
            report = await rebuild.check(self.mongo, tenant, tz, progress=_quiet, only=sample)
            self.stats.days_checked += len(sample)
            if report.drifted:
                found[tenant] = report.drifted
                log.warning("rollup drift in tenant %s on %s: run `cxgraph rollups rebuild`",
                            tenant, ", ".join(report.drifted))  # fmt: skip
        self.stats.runs += 1
        self.stats.drifted = found
        self.stats.drifted_days = sum(len(days) for days in found.values())
        return self.stats

    async def _tenants(self) -> list[str]:
        return await tenants.all_ids(self.mongo)


def _quiet(_: str) -> None:
    return None
