"""Indexes, created idempotently at start-up (create_index is a no-op when one exists)."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from service.store.client import Mongo

CUSTOMERS = "customers"
TOUCHPOINTS = "touchpoints"
SURVEY_RESPONSES = "survey_responses"
JOURNEYS = "journeys"
TENANTS = "tenants"
METRIC_ROLLUPS = "metric_rollups"
WRITE_INTENTS = "write_intents"
API_KEYS = "api_keys"
ERASURES = "erasures"
WEBHOOKS = "webhooks"
WEBHOOK_DELIVERIES = "webhook_deliveries"
ROLLUP_CHUNKS = "rollup_chunks"

_RECORD_KEY = [("tenant", ASCENDING), ("source", ASCENDING), ("externalId", ASCENDING)]

INDEXES: dict[str, list[IndexModel]] = {
    CUSTOMERS: [
        IndexModel(_RECORD_KEY, unique=True, name="record_key"),
        IndexModel([("tenant", ASCENDING), ("segments", ASCENDING), ("_id", ASCENDING)]),
        # Pages after a cursor: (tenant, _id > cursor) is a range on this index.
        IndexModel([("tenant", ASCENDING), ("_id", ASCENDING)]),
    ],
    TOUCHPOINTS: [
        IndexModel(_RECORD_KEY, unique=True, name="record_key"),
        IndexModel([("tenant", ASCENDING), ("occurredAt", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("customerId", ASCENDING), ("occurredAt", ASCENDING)]),
        # A journey's touchpoints in time order, and a stage's: the cohort funnel's two reads
        # and journey- and stage-filtered pages (docs/adr/0013).
        IndexModel(
            [
                ("tenant", ASCENDING),
                ("journey", ASCENDING),
                ("occurredAt", ASCENDING),
                ("_id", ASCENDING),
            ]
        ),
        IndexModel(
            [
                ("tenant", ASCENDING),
                ("journey", ASCENDING),
                ("stage", ASCENDING),
                ("occurredAt", ASCENDING),
                ("_id", ASCENDING),
            ]
        ),
        IndexModel([("tenant", ASCENDING), ("caseId", ASCENDING)], sparse=True),
    ],
    SURVEY_RESPONSES: [
        IndexModel(_RECORD_KEY, unique=True, name="record_key"),
        IndexModel([("tenant", ASCENDING), ("submittedAt", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("tenant", ASCENDING), ("customerId", ASCENDING), ("submittedAt", ASCENDING)]),
        # The words of comments (service/domain/search_terms.py): a search is a range on one word.
        # SecantusDB has no text index; this multikey one works on both (docs/adr/0020).
        IndexModel(
            [
                ("tenant", ASCENDING),
                ("commentTerms", ASCENDING),
                ("submittedAt", ASCENDING),
                ("_id", ASCENDING),
            ]
        ),
        # No journey/stage index here: every metric query bounds submittedAt first, and each
        # index costs every insert (the ingestion benchmark measures it).
    ],
    JOURNEYS: [IndexModel([("tenant", ASCENDING), ("key", ASCENDING)], unique=True)],
    METRIC_ROLLUPS: [
        IndexModel([("tenant", ASCENDING), ("family", ASCENDING), ("day", ASCENDING)])
    ],
    WRITE_INTENTS: [IndexModel([("tenant", ASCENDING)]), IndexModel([("at", ASCENDING)])],
    API_KEYS: [IndexModel([("tenant", ASCENDING)])],
    ERASURES: [IndexModel([("tenant", ASCENDING), ("at", ASCENDING)])],
    # A tenant's webhooks; the threshold evaluator's "which webhooks watch a metric".
    WEBHOOKS: [IndexModel([("tenant", ASCENDING)]), IndexModel([("events", ASCENDING)])],
    WEBHOOK_DELIVERIES: [
        # The workers' claim: due deliveries, oldest due first (docs/adr/0022).
        IndexModel([("status", ASCENDING), ("nextAttemptAt", ASCENDING)]),
        # Recent deliveries of a tenant, and of one of its webhooks, newest first.
        IndexModel([("tenant", ASCENDING), ("createdAt", ASCENDING), ("_id", ASCENDING)]),
        IndexModel(
            [
                ("tenant", ASCENDING),
                ("webhookId", ASCENDING),
                ("createdAt", ASCENDING),
                ("_id", ASCENDING),
            ]
        ),
        # Finished deliveries past CX_WEBHOOK_RETENTION_DAYS are deleted.
        IndexModel([("finishedAt", ASCENDING)], sparse=True),
    ],
    ROLLUP_CHUNKS: [IndexModel([("tenant", ASCENDING), ("days", ASCENDING)])],
}


async def ensure_indexes(mongo: Mongo) -> None:
    for collection, models in INDEXES.items():
        await mongo[collection].create_indexes(models)
