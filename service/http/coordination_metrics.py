"""/metrics for the work replicas share or spare each other (docs/adr/0023): rollups
materialised in the background, identical misses that waited for one computation, and
how old the data versions requests are answered at are.

The histograms are observed as things happen; the counters and the queue length are read
from the running app's objects when /metrics is scraped. All of it lives in the app's own
registry (:class:`service.observability.Observability`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

WARM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
LAG_BUCKETS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class CoordinationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.warm_seconds = Histogram(
            "cx_rollup_warm_duration_seconds",
            "One background materialisation (up to 7 days of one tenant in one aggregation).",
            buckets=WARM_BUCKETS,
            registry=registry,
        )
        self.version_lag = Histogram(
            "cx_version_feed_lag_seconds",
            "Age of the data version each request was answered at (read from MongoDB or "
            "written through this replica that long ago); at most CX_VERSION_STALENESS_MS.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.state: Any = None  # the app's AppState, once its lifespan has started
        registry.register(_Counts(self))


class _Counts(Collector):
    def __init__(self, owner: CoordinationMetrics) -> None:
        self.owner = owner

    def describe(self) -> Iterator[Metric]:
        return self._families(None)

    def collect(self) -> Iterator[Metric]:
        return self._families(self.owner.state)

    @staticmethod
    def _families(state: Any) -> Iterator[Metric]:
        warmer = getattr(state, "warmer", None)
        warm = getattr(warmer, "stats", None)
        cache = getattr(state, "cache", None)
        flight = getattr(cache, "flight_stats", None)
        queue = GaugeMetricFamily(
            "cx_rollup_warm_queue_days", "Tenant-days waiting for background materialisation."
        )
        queue.add_metric([], warmer.queued_days if warmer is not None else 0)
        yield queue
        for name, doc, attribute in (
            ("cx_rollup_warm_days", "Days materialised in the background.", "days"),
            ("cx_rollup_warm_fresh_days",
             "Days already fresh when their turn came (a query or replica was first).", "fresh"),
            ("cx_rollup_warm_lease_busy",
             "Days another replica held the lease of (tried again shortly).", "lease_busy"),
            ("cx_rollup_warm_failures", "Background materialisations that failed.", "failures"),
            ("cx_single_flight_shared",
             "Metric misses answered by the result another replica computed.", "shared"),
            ("cx_single_flight_timeouts",
             "Metric misses that waited CX_SINGLE_FLIGHT_TIMEOUT_MS, then computed.",
             "lock_timeouts"),
        ):  # fmt: skip
            source = flight if name.startswith("cx_single_flight") else warm
            family = CounterMetricFamily(name, doc)
            family.add_metric([], getattr(source, attribute, 0) if source is not None else 0)
            yield family
        waits = CounterMetricFamily(
            "cx_single_flight_waits",
            "Metric misses that waited for an identical computation: in this process, or "
            "another replica's (Redis lock).",
            labels=["scope"],
        )
        waits.add_metric(["process"], getattr(flight, "process_waits", 0))
        waits.add_metric(["replicas"], getattr(flight, "replica_waits", 0))
        yield waits
