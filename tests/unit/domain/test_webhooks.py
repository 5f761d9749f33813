"""Webhooks in pure terms: signatures, backoff, the address policy, thresholds."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random

import pytest

from service.domain.errors import BadUserInput
from service.domain.model import MetricKind
from service.domain.webhooks import signing
from service.domain.webhooks.backoff import parse_retry_after, retry_delay
from service.domain.webhooks.thresholds import Threshold, ThresholdOperator
from service.domain.webhooks.urls import check_addresses, parse_url, refusal

# -- signatures ---------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1","type":"responses.ingested"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature_header("k" * 16, 1700000000, body) == f"t=1700000000,v1={expected}"


def test_verify_accepts_its_own_and_refuses_changes_and_old_timestamps() -> None:
    body, secret = b'{"a":1}', "s" * 32
    header = signing.signature_header(secret, 1_000_000, body)
    assert signing.verify(header, secret, body, now=1_000_100)
    assert not signing.verify(header, secret, body + b" ", now=1_000_100)
    assert not signing.verify(header, "t" * 32, body, now=1_000_100)
    assert not signing.verify(header, secret, body, now=1_000_301)  # 5 minutes' tolerance
    assert not signing.verify("v1=abc", secret, body, now=1_000_000)
    assert not signing.verify("t=x,v1=abc", secret, body, now=1_000_000)
    # a second v1 (a receiver checking against two secrets in a rotation) is accepted
    other = signing.signature("o" * 32, 1_000_000, body)
    assert signing.verify(f"{header},v1={other}", secret, body, now=1_000_000)


# -- backoff --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_each_wait_lies_between_half_and_all_of_a_doubling_capped_ceiling(seed: int) -> None:
    rng = random.Random(seed)
    for failed in range(1, 15):
        ceiling = min(3600.0, 30.0 * 2 ** (failed - 1))
        delay = retry_delay(failed, 30.0, 3600.0, rng)
        assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_waits_and_retry_after_is_honoured_up_to_the_cap() -> None:
    waits = {round(retry_delay(3, 30.0, 3600.0, random.Random(s)), 6) for s in range(20)}
    assert len(waits) == 20  # replicas that failed together do not retry together
    assert retry_delay(1, 30.0, 3600.0, random.Random(1), retry_after_s=600) == 600
    assert retry_delay(1, 30.0, 3600.0, random.Random(1), retry_after_s=86400) == 3600
    assert (parse_retry_after("120"), parse_retry_after(" 7 ")) == (120.0, 7.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


# -- the address policy ------------------------------------------------------------------------


LINK_LOCAL = "link-local (cloud metadata lives there)"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
        ("10.1.2.3", "private"), ("172.31.255.1", "private"), ("192.168.0.10", "private"),
        ("fd00:ec2::254", "private"), ("169.254.169.254", LINK_LOCAL),
        ("fe80::1", LINK_LOCAL), ("100.64.0.1", "not public"),
        ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("224.0.0.1", "multicast"),
        ("::ffff:10.0.0.1", "private"), ("64:ff9b::7f00:1", "loopback"),
        ("2002:a9fe:a9fe::1", LINK_LOCAL),
        ("8.8.8.8", None), ("2606:4700:4700::1111", None), ("64:ff9b::808:808", None),
    ],
)  # fmt: skip
def test_which_addresses_are_refused(address: str, why: str | None) -> None:
    assert refusal(ipaddress.ip_address(address)) == why


def test_one_private_address_among_public_ones_refuses_the_host() -> None:
    public, private = ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("10.0.0.1")
    check_addresses("ok.example", [public], allow_private=False)
    with pytest.raises(BadUserInput) as refused:
        check_addresses("mixed.example", [public, private], allow_private=False)
    assert refused.value.extensions["reason"] == "PRIVATE_ADDRESS"
    check_addresses("mixed.example", [public, private], allow_private=True)


def test_a_url_keeps_its_text_and_gets_its_port() -> None:
    checked = parse_url("HTTPS://Hooks.Example.COM/cx?a=1")
    assert (checked.url, checked.scheme, checked.host, checked.port) == (
        "HTTPS://Hooks.Example.COM/cx?a=1", "https", "hooks.example.com", 443)  # fmt: skip
    assert parse_url("http://[2001:db8::1]:8080/").host == "2001:db8::1"


# -- thresholds ---------------------------------------------------------------------------------


def test_a_threshold_holds_only_with_enough_answers() -> None:
    t = Threshold(
        kind=MetricKind.NPS,
        filter={},
        operator=ThresholdOperator.BELOW,
        value=0.0,
        window_days=7,
        min_sample=None,
    )
    assert t.holds(-10.0, 29, tenant_min_sample=30) is None
    assert t.holds(None, 100, tenant_min_sample=30) is None
    assert t.holds(-10.0, 30, tenant_min_sample=30) is True
    assert t.holds(0.0, 30, tenant_min_sample=30) is False
    at_most = Threshold(t.kind, {}, ThresholdOperator.AT_MOST, 0.0, 7, 1)
    assert (at_most.holds(0.0, 1, 30), ThresholdOperator.ABOVE.holds(1, 1),
            ThresholdOperator.AT_LEAST.holds(1, 1)) == (True, False, True)  # fmt: skip
    assert t.key == Threshold.from_doc(t.as_doc()).key


def test_a_filter_field_thresholds_do_not_know_is_refused_not_dropped() -> None:
    from service.domain.webhooks.thresholds import checked

    with pytest.raises(BadUserInput) as refused:
        checked(0, MetricKind.NPS, {"segments": ["vip"], "languages": ["fa"]},
                ThresholdOperator.BELOW, 0.0, 7, None, 400)  # fmt: skip
    assert refused.value.extensions["reason"] == "INVALID_THRESHOLD"
    kept = checked(0, MetricKind.NPS, {"questions": ["q2", "q1", "q1"], "stages": None},
                   ThresholdOperator.BELOW, 0.0, 7, None, 400)  # fmt: skip
    assert kept.filter == {"questions": ("q1", "q2")}
