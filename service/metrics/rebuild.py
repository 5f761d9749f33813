"""`cxgraph rollups rebuild [--check]`: recompute rollups from raw documents, report drift."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from service.domain.metrics.cells import Cell, CellFilter
from service.store import rollups, survey_cells, tenants
from service.store.client import Mongo
from service.store.rollups import RollupDay
from service.store.survey_cells import PeriodBy

CHUNK_DAYS = 31


@dataclass
class RollupReport:
    days: int = 0  # days with survey responses (or the sample checked)
    drifted: list[str] = field(default_factory=list)  # stored rollups that disagree with raw
    pending: list[str] = field(default_factory=list)  # written since materialised: not drift
    rebuilt: int = 0
    changed: list[str] = field(default_factory=list)  # days whose stored rollups a rebuild fixed
    data_version: int | None = None  # the tenant's data version after a rebuild


def _chunks(days: list[str]) -> list[list[str]]:
    return [days[i : i + CHUNK_DAYS] for i in range(0, len(days), CHUNK_DAYS)]


def _fingerprint(cells: list[Cell]) -> Counter[tuple[object, ...]]:
    out: Counter[tuple[object, ...]] = Counter()
    for cell in cells:
        for value, count in cell.hist.items():
            out[(cell.key, value)] += count
    return out


def _differing(
    fresh: dict[tuple[str, str], list[Cell]], stored: dict[tuple[str, str], list[RollupDay]]
) -> set[str]:
    out = set()
    for day, family in set(fresh) | set(stored):
        kept = [c for found in stored.get((day, family), []) for c in found.cells.cells()]
        if _fingerprint(kept) != _fingerprint(fresh.get((day, family), [])):
            out.add(day)
    return out


async def check(
    mongo: Mongo,
    tenant: str,
    tz: ZoneInfo,
    progress: Callable[[str], None] = print,
    only: list[str] | None = None,
) -> RollupReport:
    """Compare stored rollups with a recount from raw documents; changes nothing.

    ``only`` restricts the check to those days (the periodic check samples a few)."""
    current = await rollups.current_state(mongo, tenant, tz)
    if only is None:
        days = sorted(set(await rollups.days_with_data(mongo, tenant, tz)) | set(current.written))
    else:
        days = sorted(set(only))
    report = RollupReport(days=len(days))
    report.pending = current.stale(days)
    pending = set(report.pending)
    by = PeriodBy(unit="date", timezone=tz.key)
    drifted: set[str] = set()
    for chunk in _chunks([d for d in days if d not in pending]):
        ranges = rollups.day_ranges(chunk, tz)
        raw = await survey_cells.cells(mongo, tenant, ranges, CellFilter(), by, None)
        fresh = {key: list(cells.values()) for key, cells in raw.items()}
        drifted |= _differing(fresh, await rollups.read_all(mongo, tenant, chunk, current))
        progress(f"rollups: checked {chunk[-1]} ({len(drifted)} drifted so far)")
    report.drifted = sorted(drifted)
    return report


async def rebuild(
    mongo: Mongo, tenant: str, tz: ZoneInfo, progress: Callable[[str], None] = print
) -> RollupReport:
    """Mark every day with data as written, materialise all of them from raw, and bump the
    tenant's data version so that no answer cached from the old rollups is served again."""
    before = await rollups.current_state(mongo, tenant, tz)
    days = sorted(set(await rollups.days_with_data(mongo, tenant, tz)) | set(before.written))
    report = RollupReport(days=len(days), pending=before.stale(days))
    await rollups.bump_days(mongo, tenant, days, tz)
    changed: set[str] = set()
    for chunk in _chunks(days):
        stored = await rollups.read_all(mongo, tenant, chunk, before)
        current = await rollups.state(mongo, tenant)
        computed = await rollups.materialize(mongo, tenant, tz, chunk, current)
        changed |= _differing({k: v.cells.cells() for k, v in computed.items()}, stored)
        report.rebuilt += len(chunk)
        progress(f"rollups: rebuilt {report.rebuilt}/{len(days)} days")
    report.changed = sorted(changed)
    report.data_version = await tenants.bump_data_version(mongo, tenant)
    return report


async def warm(
    mongo: Mongo, tenant: str, tz: ZoneInfo, progress: Callable[[str], None] = print
) -> int:
    """Materialise every day written since it was last materialised (after a bulk load), so
    the first queries find them ready. Returns how many days it materialised."""
    current = await rollups.current_state(mongo, tenant, tz)
    stale = sorted(current.stale(current.written))
    done = 0
    for chunk in _chunks(stale):
        await rollups.materialize(mongo, tenant, tz, chunk, await rollups.state(mongo, tenant))
        done += len(chunk)
        progress(f"rollups: materialised {done}/{len(stale)} days")
    return done
