"""Deterministic document ids.

A record's id is derived from ``(tenant, source, externalId)``, so a touchpoint can point at a
customer that has not arrived yet, and a resend finds the same document without a lookup.
"""

from __future__ import annotations

import hashlib

_PREFIX = {"customers": "cus", "touchpoints": "tp", "survey_responses": "sr"}


def record_id(collection: str, tenant: str, source: str, external_id: str) -> str:
    digest = hashlib.blake2b(
        "\x1f".join((tenant, source, external_id)).encode(), digest_size=12
    ).hexdigest()
    return f"{_PREFIX[collection]}_{digest}"
