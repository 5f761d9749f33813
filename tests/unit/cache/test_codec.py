"""The cache codec: every cached answer type round-trips; nothing else decodes."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from service.cache.codec import Codec, Undecodable
from service.domain.metrics.formulas import Distribution, MetricValue, Sample
from service.domain.metrics.funnel import FunnelStep
from service.domain.model import MetricKind
from service.metrics.service import MetricResult, cache_codec

AT = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


def result(kind: MetricKind = MetricKind.NPS) -> MetricResult:
    value = MetricValue(
        kind=kind, value=12.5, n=8, numerator=1.0, denominator=8.0, scale_min=0, scale_max=10,
        ci_low=-40.25, ci_high=65.0, margin_of_error=52.6,
        distribution=Distribution(promoters=3, passives=3, detractors=2),
        sample=Sample(n=8, promoters=3, detractors=2),
    )  # fmt: skip
    return MetricResult(value=value, definition="100·(P−D)/N", low_sample=True,
                        computed_at=AT, data_version=7)  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        result(),
        [((("vip", None), result(MetricKind.CSAT))), ((None, "web"), result())],
        [(AT, result(MetricKind.CES))],
        [FunnelStep("visit", 10, None, 3.5), FunnelStep("buy", 4, 40.0, None)],
        {"nested": [1, 2.5, None, True, "x"], "empty": {}},
        (),
    ],
)
def test_every_cached_shape_round_trips(value: object) -> None:
    codec = cache_codec()
    assert codec.decode(codec.encode(value)) == value


def test_floats_keep_every_digit_and_nan_survives() -> None:
    codec = Codec(())
    x = 0.1 + 0.2
    assert codec.decode(codec.encode([x, 1e-300]))[0] == x
    nan = codec.decode(codec.encode(float("nan")))
    assert nan != nan


@pytest.mark.parametrize(
    "blob",
    [
        pickle.dumps({"a": 1}),
        b"not json",
        b'{"$c": "Popen", "f": {"args": "id"}}',  # a type that is not on the list
        b'{"$e": ["MetricKind", "NOT_A_KIND"]}',
        b'{"$c": "MetricResult", "f": {"unknown_field": 1}}',
        b'{"$zz": 1}',
        b'{"$t": [1], "$m": {}, "x": 2}',
    ],
)
def test_anything_it_did_not_write_is_undecodable(blob: bytes) -> None:
    with pytest.raises(Undecodable):
        cache_codec().decode(blob)


def test_a_type_not_on_the_list_is_refused_when_encoding() -> None:
    class Stranger:
        pass

    with pytest.raises(TypeError, match="cannot cache a Stranger"):
        cache_codec().encode(Stranger())
    with pytest.raises(TypeError, match="not among"):
        Codec(()).encode(MetricKind.NPS)
