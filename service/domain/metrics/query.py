"""What a metric question asks, once arguments are checked: the planner's input."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo

from service.domain.errors import CxError
from service.domain.metrics.cells import RESPONSE, CellFilter, Scale
from service.domain.metrics.timeframe import Period, Window, periods
from service.domain.model import Calendar, Dimension, Granularity, MetricKind, WeekStart

UTC_ZONE = ZoneInfo("UTC")


class Source(Enum):
    """Where survey metrics are read from. AUTO uses rollups plus raw edges."""

    AUTO = "AUTO"
    ROLLUPS = "ROLLUPS"
    RAW = "RAW"


SURVEY_FAMILY: dict[MetricKind, str] = {
    MetricKind.NPS: "NPS",
    MetricKind.NPS_MEAN_LIKELIHOOD: "NPS",
    MetricKind.CSAT: "CSAT",
    MetricKind.CSAT_SCORE_PERCENT: "CSAT",
    MetricKind.CES: "CES",
    MetricKind.CES_PERCENT_EASY: "CES",
    MetricKind.EMOTION: "EMOTION",
    MetricKind.VALUE_FOR_EFFORT: "VALUE_FOR_EFFORT",
    MetricKind.COMPONENT_SCORE: "COMPONENT",
    MetricKind.RESPONSE_COUNT: RESPONSE,
}
CUSTOMER_KINDS = frozenset({MetricKind.RETENTION_RATE, MetricKind.RETENTION_RATE_NET,
                            MetricKind.CHURN_RATE, MetricKind.CLV})  # fmt: skip

PeriodKey = float | None  # a period's start as a UTC timestamp; None for a whole window


@dataclass(frozen=True)
class MetricQuery:
    kind: MetricKind
    window: Window
    filter: CellFilter
    by: tuple[Dimension, ...] = ()
    granularity: Granularity | None = None
    timezone: ZoneInfo = UTC_ZONE
    source: Source = Source.AUTO
    calendar: Calendar = Calendar.GREGORIAN
    week_start: WeekStart = WeekStart.MONDAY
    # Read a response's answers per component (as a COMPONENT breakdown does) without
    # grouping by it: the total that a COMPONENT breakdown's groups are tested against.
    component_units: bool = False

    def periods(self) -> list[tuple[PeriodKey, Window]]:
        if self.granularity is None:
            return [(None, self.window)]
        return [(p.label.timestamp(), p.window) for p in self.period_list()]

    def period_list(self) -> list[Period]:
        assert self.granularity is not None
        return periods(self.window, self.granularity, self.timezone, self.calendar,
                       self.week_start)  # fmt: skip

    @property
    def gregorian_periods(self) -> bool:
        """Whether MongoDB's ``$dateTrunc`` cuts these periods (days, ISO weeks, Gregorian
        months); other calendars' periods are built of local days (survey.py)."""
        g = self.granularity
        return not (
            (g is Granularity.WEEK and self.week_start is not WeekStart.MONDAY)
            or (g is Granularity.MONTH and self.calendar is not Calendar.GREGORIAN)
        )


class IncompatibleScales(CxError):
    code = "INCOMPATIBLE_SCALES"

    def __init__(self, kind: MetricKind, scales: list[Scale]) -> None:
        named = ", ".join(f"{lo}-{hi}" for lo, hi in sorted(scales))
        super().__init__(
            f"{kind.value} would pool answers on different scales ({named}); narrow the filter "
            "(e.g. by journey or stage) so one scale remains",
            scales=[{"min": lo, "max": hi} for lo, hi in sorted(scales)],
        )


class IncompatibleDirections(CxError):
    """CES answers where a high value means easy (the CES 2.0 agreement scale) and answers
    where it means hard (an effort scale) met in one result: a mean of both means nothing,
    and the two are different questions, as two scales are."""

    code = "INCOMPATIBLE_DIRECTIONS"

    def __init__(self, kind: MetricKind) -> None:
        super().__init__(
            f"{kind.value} would pool CES answers where a high value means easy with answers "
            "where it means hard (highIsEasy true and false); narrow the filter (e.g. by "
            "questions or journey) so one direction remains",
            highIsEasy=[False, True],
        )


class ScaleTooShort(CxError):
    """A top-2-box share on a scale of fewer than 4 points: on 1–2 it is always 100%, on 1–3
    it counts two of three points — neither is a "top box"."""

    code = "SCALE_TOO_SHORT"

    def __init__(self, kind: MetricKind, scale: Scale) -> None:
        lo, hi = scale
        super().__init__(
            f"{kind.value} is a top-2-box share and needs a scale of at least 4 points; "
            f"{lo}-{hi} has {hi - lo + 1}",
            scale={"min": lo, "max": hi},
        )
