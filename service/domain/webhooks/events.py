"""Webhook events: their types, deterministic ids and the JSON bodies receivers get.

An event's id is also the ``Idempotency-Key`` of every delivery of it: it is derived from
what the event reports, never drawn at random, so an event recorded twice (a write repaired
by its resend, a threshold evaluation that died half-way and ran again) has one id, is
stored once per webhook, and a receiver that remembers ids drops any duplicate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RESPONSES_INGESTED = "responses.ingested"
METRIC_THRESHOLD = "metric.threshold"
EVENT_TYPES = (RESPONSES_INGESTED, METRIC_THRESHOLD)


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    body: str  # the exact JSON every attempt sends and signs


@dataclass(frozen=True)
class IngestedRecord:
    id: str
    source: str
    external_id: str
    status: str  # INSERTED, UPDATED, or RECOVERED (stored by an earlier attempt of the write)
    write: str  # the write (intent) that stored it: part of the event's identity


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def delivery_id(webhook_id: str, event_id: str) -> str:
    return "dlv_" + _digest(webhook_id, event_id)


def _body(event_id: str, kind: str, at: datetime, data_version: int, data: Any) -> str:
    payload = {"id": event_id, "type": kind, "createdAt": at.isoformat(),
               "dataVersion": data_version, "data": data}  # fmt: skip
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def responses_ingested(
    tenant: str, records: Iterable[IngestedRecord], data_version: int, at: datetime
) -> Event | None:
    """The responses one write stored (None when it stored none)."""
    ordered = sorted(records, key=lambda r: (r.source, r.external_id, r.id))
    if not ordered:
        return None
    event_id = "evt_" + _digest(tenant, RESPONSES_INGESTED,
                                *sorted(f"{r.id}@{r.write}" for r in ordered))  # fmt: skip
    data = {
        "count": len(ordered),
        "responses": [{"id": r.id, "source": r.source, "externalId": r.external_id,
                       "status": r.status} for r in ordered],
    }  # fmt: skip
    return Event(event_id, RESPONSES_INGESTED, _body(event_id, RESPONSES_INGESTED, at,
                                                     data_version, data))  # fmt: skip


def threshold_met(
    tenant: str,
    webhook_id: str,
    threshold: Mapping[str, Any],
    episode: int,
    result: Mapping[str, Any],
    data_version: int,
    at: datetime,
) -> Event:
    """A threshold's condition became true (its ``episode``-th time since it was defined)."""
    event_id = "evt_" + _digest(tenant, METRIC_THRESHOLD, webhook_id, str(threshold["key"]),
                                str(episode))  # fmt: skip
    data = {"threshold": dict(threshold), "result": dict(result), "episode": episode}
    return Event(event_id, METRIC_THRESHOLD,
                 _body(event_id, METRIC_THRESHOLD, at, data_version, data))  # fmt: skip
