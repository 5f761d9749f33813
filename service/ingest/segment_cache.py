"""Customers' segments remembered between batches, valid while no customer was written.

Every touchpoint and response snapshots its customer's segments, so each batch needs the
segments of hundreds of customers; on SecantusDB that lookup was a fifth of a batch. Any
customer write, on any replica, bumps the tenant's ``customersVersion`` (in the same update
as its ``dataVersion``); a batch reads that counter (one small read) and uses what this
process remembers only if it was filled under the same version. A customer written while a
batch runs is no different from one written just after it: the same race a fresh lookup has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Segments = list[str] | None  # None: the customer is a stub, its segments unknown yet

MAX_ENTRIES = 200_000


@dataclass
class _TenantEntry:
    version: int
    segments: dict[str, Segments] = field(default_factory=dict)


class SegmentCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._tenants: dict[str, _TenantEntry] = {}

    def known(self, tenant: str, version: int, ids: set[str]) -> dict[str, Segments]:
        entry = self._tenants.get(tenant)
        if entry is None or entry.version != version:
            return {}
        return {i: entry.segments[i] for i in ids if i in entry.segments}

    def remember(self, tenant: str, version: int, found: dict[str, Segments]) -> None:
        entry = self._tenants.get(tenant)
        if entry is None or entry.version != version:
            entry = self._tenants[tenant] = _TenantEntry(version)
        if len(entry.segments) + len(found) > self.max_entries:
            entry.segments.clear()
        entry.segments.update(found)
