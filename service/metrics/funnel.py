"""Journey funnels: customers reaching each stage, conversion and time to the next stage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.metrics import stats
from service.store.client import Doc


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    customers: int
    conversion_from_previous: float | None
    median_hours_to_next_stage: float | None


def funnel(stage_keys: list[str], visits: list[Doc]) -> list[FunnelStep]:
    first: dict[str, dict[str, datetime]] = {s: {} for s in stage_keys}
    for v in visits:
        stage = v["_id"]["s"]
        if stage in first:
            first[stage][v["_id"]["c"]] = v["t"]
    steps = []
    for i, stage in enumerate(stage_keys):
        reached = first[stage]
        previous = len(first[stage_keys[i - 1]]) if i else 0
        conversion = 100 * len(reached) / previous if i and previous else None
        hours = None
        if i + 1 < len(stage_keys):
            nxt = first[stage_keys[i + 1]]
            gaps = [(nxt[c] - t).total_seconds() / 3600 for c, t in reached.items()
                    if c in nxt and nxt[c] >= t]  # fmt: skip
            hours = stats.median(gaps)
        steps.append(FunnelStep(stage, len(reached), conversion, hours))
    return steps
