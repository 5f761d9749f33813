"""Journey funnels over an entry cohort: who reaches each stage, and how soon (docs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.domain.metrics import stats
from service.domain.records import Visit


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    customers: int
    conversion_from_previous: float | None
    median_hours_to_next_stage: float | None


def _reached(stage_keys: list[str], visits: list[Visit]) -> list[dict[str, datetime]]:
    """Per stage, each cohort member's time of reaching it: the first stage's first visit,
    then the first visit to each next stage at or after reaching the one before."""
    times: dict[str, dict[str, list[datetime]]] = {s: {} for s in stage_keys}
    for v in visits:  # oldest first
        if v.stage in times:
            times[v.stage].setdefault(v.customer, []).append(v.at)
    reached: list[dict[str, datetime]] = [{c: ts[0] for c, ts in times[stage_keys[0]].items()}]
    for stage in stage_keys[1:]:
        here: dict[str, datetime] = {}
        for customer, before in reached[-1].items():
            later = next((t for t in times[stage].get(customer, ()) if t >= before), None)
            if later is not None:
                here[customer] = later
        reached.append(here)
    return reached


def funnel(stage_keys: list[str], visits: list[Visit], now: datetime) -> list[FunnelStep]:
    """Stages in order for the cohort in ``visits`` (stage_keys[0]'s entrants). Time to the
    next stage is a Kaplan–Meier median, who has not moved on being censored at ``now``."""
    if not stage_keys:
        return []
    reached = _reached(stage_keys, visits)
    steps = []
    for i, stage in enumerate(stage_keys):
        previous = len(reached[i - 1]) if i else 0
        conversion = 100 * len(reached[i]) / previous if i and previous else None
        hours = None
        if i + 1 < len(stage_keys):
            nxt = reached[i + 1]
            times = [
                ((nxt[c] - t).total_seconds() / 3600, True) if c in nxt
                else (max((now - t).total_seconds(), 0.0) / 3600, False)  # not yet: censored
                for c, t in reached[i].items()
            ]  # fmt: skip
            hours = stats.kaplan_meier_median(times)
        steps.append(FunnelStep(stage, len(reached[i]), conversion, hours))
    return steps
