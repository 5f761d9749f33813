"""Delivery signatures, the way Stripe signs its webhooks.

Header ``Cxgraph-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``, where the HMAC's key is
the webhook's secret and its message is ``f"{t}."`` followed by the exact body bytes. The
timestamp is the attempt's, so a receiver can refuse old (replayed) deliveries; the body and
the ``Idempotency-Key`` stay the same on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Cxgraph-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


def verify(
    header: str, secret: str, body: bytes, now: float, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """What a receiver does (docs/webhooks.md has the same in a few lines of its own)."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    timestamps = [v for k, v in parts if k.strip() == "t"]
    candidates = [v.strip() for k, v in parts if k.strip() == SCHEME]
    if len(timestamps) != 1 or not timestamps[0].strip().isdigit() or not candidates:
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)
