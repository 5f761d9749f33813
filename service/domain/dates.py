"""Calendar checks for ISO-8601 input: an impossible date is named as such.

Python's parsers reject "2026-02-30T10:00:00Z" with the same error as "yesterday"; a client
fixing its data needs to know the shape was right and the day does not exist.
"""

from __future__ import annotations

import calendar
import re

_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?=[T ]|\s*$)")


def impossible_date(text: str) -> str | None:
    """Why the date that ``text`` starts with cannot exist; None when it can, or when ``text``
    does not start with a YYYY-MM-DD date at all."""
    found = _DATE.match(text)
    if found is None:
        return None
    year, month, day = (int(g) for g in found.groups())
    date = "-".join(found.groups())
    if year < 1:
        return f"{date} is an impossible date: years start at 0001"
    if not 1 <= month <= 12:
        return f"{date} is an impossible date: there is no month {month:02d}"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{date} is an impossible date: {calendar.month_name[month]} {year} has {days} days"
    return None
