"""`cxgraph rollups rebuild [--check]`: recompute rollups from raw documents, report drift."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from service.metrics.cells import Cell, CellFilter
from service.store import rollups, survey_cells
from service.store.client import Mongo, aggregate
from service.store.indexes import SURVEY_RESPONSES
from service.store.survey_cells import PeriodBy

CHUNK_DAYS = 31


@dataclass
class RollupReport:
    days: int = 0  # days with survey responses
    drifted: list[str] = field(default_factory=list)  # stored rollups that disagree with raw
    pending: list[str] = field(default_factory=list)  # written since materialised: not drift
    rebuilt: int = 0


async def days_with_data(mongo: Mongo, tenant: str, tz: ZoneInfo) -> list[str]:
    rows = await aggregate(mongo[SURVEY_RESPONSES], [
        {"$match": {"tenant": tenant}},
        {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$submittedAt",
                                              "timezone": tz.key}}}},
    ], timeout_s=mongo.query_timeout_s)  # fmt: skip
    return sorted(r["_id"] for r in rows)


def _chunks(days: list[str]) -> list[list[str]]:
    return [days[i : i + CHUNK_DAYS] for i in range(0, len(days), CHUNK_DAYS)]


def _fingerprint(cells: list[Cell]) -> Counter[tuple[object, ...]]:
    out: Counter[tuple[object, ...]] = Counter()
    for cell in cells:
        for value, count in cell.hist.items():
            out[(cell.key, value)] += count
    return out


async def check(
    mongo: Mongo, tenant: str, tz: ZoneInfo, progress: Callable[[str], None] = print
) -> RollupReport:
    current = await rollups.state(mongo, tenant)
    days = sorted(set(await days_with_data(mongo, tenant, tz)) | set(current.written))
    report = RollupReport(days=len(days))
    report.pending = current.stale(days)
    pending = set(report.pending)
    by = PeriodBy(unit="date", timezone=tz.key)
    for chunk in _chunks([d for d in days if d not in pending]):
        ranges = rollups.day_ranges(chunk, tz)
        raw = await survey_cells.cells(mongo, tenant, ranges, CellFilter(), by, None)
        stored = await rollups.read_all(mongo, tenant, chunk, current)
        for day, family in set(raw) | set(stored):
            fresh = list(raw.get((day, family), {}).values())
            kept = [c for packed in stored.get((day, family), []) for c in packed.cells()]
            if _fingerprint(kept) != _fingerprint(fresh):
                report.drifted.append(day)
        progress(f"rollups: checked {chunk[-1]} ({len(report.drifted)} drifted so far)")
    report.drifted = sorted(set(report.drifted))
    return report


async def rebuild(
    mongo: Mongo, tenant: str, tz: ZoneInfo, progress: Callable[[str], None] = print
) -> RollupReport:
    """Mark every day with data as written, then materialise all of them from raw."""
    days = sorted(set(await days_with_data(mongo, tenant, tz)) |
                  set((await rollups.state(mongo, tenant)).written))  # fmt: skip
    report = RollupReport(days=len(days))
    await rollups.bump_days(mongo, tenant, days)
    for chunk in _chunks(days):
        current = await rollups.state(mongo, tenant)
        await rollups.materialize(mongo, tenant, tz, chunk, current)
        report.rebuilt += len(chunk)
        progress(f"rollups: rebuilt {report.rebuilt}/{len(days)} days")
    return report
