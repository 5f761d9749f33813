"""The CX vocabulary: enums shared by storage, ingestion, metrics and the GraphQL schema."""

from __future__ import annotations

from enum import Enum


class Channel(Enum):
    WEB = "WEB"
    MOBILE_APP = "MOBILE_APP"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    CHAT = "CHAT"
    STORE = "STORE"
    SOCIAL = "SOCIAL"
    OTHER = "OTHER"


class Component(Enum):
    """The six components of customer experience (seed 000)."""

    COMMUNICATIONS = "COMMUNICATIONS"
    PRODUCT = "PRODUCT"
    PROCESSES = "PROCESSES"
    CHANNELS = "CHANNELS"
    PEOPLE = "PEOPLE"
    PRICE = "PRICE"


class AnswerMetric(Enum):
    """What a survey answer measures."""

    NPS = "NPS"
    CSAT = "CSAT"
    CES = "CES"
    EMOTION = "EMOTION"
    VALUE_FOR_EFFORT = "VALUE_FOR_EFFORT"
    COMPONENT = "COMPONENT"
    OTHER = "OTHER"


class Phase(Enum):
    PRE_PURCHASE = "PRE_PURCHASE"
    PURCHASE = "PURCHASE"
    POST_PURCHASE = "POST_PURCHASE"


class RecordStatus(Enum):
    INSERTED = "INSERTED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    REJECTED = "REJECTED"


def values(enum: type[Enum]) -> frozenset[str]:
    return frozenset(member.value for member in enum)


class MetricKind(Enum):
    NPS = "NPS"
    NPS_MEAN_LIKELIHOOD = "NPS_MEAN_LIKELIHOOD"
    CSAT = "CSAT"
    CSAT_SCORE_PERCENT = "CSAT_SCORE_PERCENT"
    CES = "CES"
    CES_PERCENT_EASY = "CES_PERCENT_EASY"
    FCR = "FCR"
    EMOTION = "EMOTION"
    VALUE_FOR_EFFORT = "VALUE_FOR_EFFORT"
    COMPONENT_SCORE = "COMPONENT_SCORE"
    RETENTION_RATE = "RETENTION_RATE"
    RETENTION_RATE_NET = "RETENTION_RATE_NET"
    CHURN_RATE = "CHURN_RATE"
    CLV = "CLV"
    RESPONSE_COUNT = "RESPONSE_COUNT"


class Dimension(Enum):
    SEGMENT = "SEGMENT"
    JOURNEY = "JOURNEY"
    STAGE = "STAGE"
    CHANNEL = "CHANNEL"
    COMPONENT = "COMPONENT"


class Granularity(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


class Calendar(Enum):
    """Whose months and dates a trend speaks (service/domain/metrics/calendars.py)."""

    GREGORIAN = "GREGORIAN"
    PERSIAN = "PERSIAN"  # Solar Hijri: Farvardin ... Esfand, the year from Nowruz
    ISLAMIC_UMALQURA = "ISLAMIC_UMALQURA"  # Saudi Arabia's official lunar calendar


class WeekStart(Enum):
    """The first day of a trend's weeks (MONDAY: ISO weeks)."""

    MONDAY = "MONDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"
