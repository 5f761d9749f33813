"""An independent reference implementation ("oracle") of the CX metrics of docs/metrics.md.

Written from the document alone with pandas and scipy; it shares no code with the service
(`service/`, `schema/`, `resolvers/`), so that integration tests can compare the service's
answers with the oracle's over the same raw partner records.
"""

from tests.oracle.dataset import Dataset
from tests.oracle.metrics import (
    BadUserInput,
    IncompatibleDirections,
    IncompatibleScales,
    ScaleTooShort,
    breakdown,
    breakdown_tests,
    compare,
    funnel,
    metric,
    segments,
    trend,
    trend_tests,
)

__all__ = [
    "BadUserInput",
    "Dataset",
    "IncompatibleDirections",
    "IncompatibleScales",
    "ScaleTooShort",
    "breakdown",
    "breakdown_tests",
    "compare",
    "funnel",
    "metric",
    "segments",
    "trend",
    "trend_tests",
]
