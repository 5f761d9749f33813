"""Per-tenant settings: the tenant's document overrides the environment's defaults.

Timezone, calendar, week start, minimum sample and the longest window live in
``tenants.<id>.settings`` (`cxgraph tenants create|show|set`); a tenant without them takes
``CX_TIMEZONE``, ``CX_CALENDAR``, ``CX_WEEK_START``, ``CX_MIN_SAMPLE`` and
``CX_MAX_WINDOW_DAYS``. Each replica remembers a tenant's settings for
``CX_AUTH_CACHE_S`` seconds, so a change reaches every replica within that time. A timezone
change needs nothing else: rollups record the timezone they were cut in and re-key
themselves on the next read (ADR 6).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.model import Calendar, WeekStart
from service.settings import Settings
from service.store import tenants
from service.store.client import Mongo

FIELDS = {"timezone": "timezone", "minSample": "min_sample", "maxWindowDays": "max_window_days",
          "calendar": "calendar", "weekStart": "week_start"}  # fmt: skip
CHOICES: dict[str, type[Enum]] = {"calendar": Calendar, "weekStart": WeekStart}


@dataclass(frozen=True)
class TenantSettings:
    timezone: str
    min_sample: int
    max_window_days: int
    calendar: Calendar = Calendar.GREGORIAN
    week_start: WeekStart = WeekStart.MONDAY

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def applied_to(self, settings: Settings) -> Settings:
        """The process settings as this tenant sees them."""
        return settings.model_copy(update={"timezone": self.timezone,
                                           "min_sample": self.min_sample,
                                           "max_window_days": self.max_window_days,
                                           "calendar": self.calendar,
                                           "week_start": self.week_start})  # fmt: skip

    def cache_part(self) -> str:
        """What of these settings changes an answer, for cache keys."""
        return (f"{self.timezone}|{self.calendar.value}|{self.week_start.value}|"
                f"{self.min_sample}|{self.max_window_days}")  # fmt: skip


def defaults(settings: Settings) -> TenantSettings:
    return TenantSettings(settings.timezone, settings.min_sample, settings.max_window_days,
                          settings.calendar, settings.week_start)  # fmt: skip


def checked(values: dict[str, Any]) -> dict[str, Any]:
    """Stored names and values, checked; a ValueError names what is wrong."""
    out: dict[str, Any] = {}
    for stored, value in values.items():
        if stored not in FIELDS:
            raise ValueError(f"unknown tenant setting {stored!r}; one of {', '.join(FIELDS)}")
        if value is None:
            continue
        if stored == "timezone":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not an IANA timezone") from None
            out[stored] = str(value)
        elif stored in CHOICES:
            names = [member.value for member in CHOICES[stored]]
            if str(value).upper() not in names:
                raise ValueError(f"{stored} must be one of {', '.join(names)}, not {value!r}")
            out[stored] = str(value).upper()
        else:
            number = int(value)
            if number < 1:
                raise ValueError(f"{stored} must be at least 1")
            out[stored] = number
    return out


class TenantDirectory:
    def __init__(self, mongo: Mongo, settings: Settings) -> None:
        self.mongo = mongo
        self.settings = settings
        self._known: dict[str, tuple[float, TenantSettings]] = {}

    async def get(self, tenant: str) -> TenantSettings:
        held = self.known(tenant)
        if held is not None:
            return held
        now = time.monotonic()
        stored = await tenants.stored_settings(self.mongo, tenant)
        base = defaults(self.settings)
        result = TenantSettings(
            timezone=str(stored.get("timezone", base.timezone)),
            min_sample=int(stored.get("minSample", base.min_sample)),
            max_window_days=int(stored.get("maxWindowDays", base.max_window_days)),
            calendar=Calendar(stored.get("calendar", base.calendar.value)),
            week_start=WeekStart(stored.get("weekStart", base.week_start.value)),
        )
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[tenant] = (now + self.settings.auth_cache_s, result)
        return result

    def known(self, tenant: str) -> TenantSettings | None:
        """What ``get`` would answer without reading the database; None where it would."""
        found = self._known.get(tenant)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def forget(self, tenant: str) -> None:
        self._known.pop(tenant, None)
