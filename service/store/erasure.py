"""Erasing a customer's personal data: name, e-mail and attributes from the customer,
comments (and their search words) from its survey responses. The anonymous answers stay, so
aggregates do not move.
Erased documents get a content hash no record can have, so that a partner resending the
customer later stores exactly what it sends (erased fields come back only if sent again).
The audit trail records that it happened — when and by which credential — never what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from service.store.client import Mongo
from service.store.indexes import CUSTOMERS, ERASURES, SURVEY_RESPONSES

ERASED_HASH = "erased"  # never the hash of any content (hashes are hex)
CUSTOMER_PII = ("name", "email", "attributes")


@dataclass(frozen=True)
class Erased:
    customer: bool
    survey_responses: int


async def erase_customer(mongo: Mongo, tenant: str, customer_id: str, credential: str) -> Erased:
    now = datetime.now(UTC)
    found = await mongo[CUSTOMERS].update_one(
        {"_id": {"$eq": customer_id}, "tenant": {"$eq": tenant}},
        {"$unset": dict.fromkeys(CUSTOMER_PII, ""),
         "$set": {"contentHash": ERASED_HASH, "erasedAt": now, "updatedAt": now}},
    )  # fmt: skip
    responses = await mongo[SURVEY_RESPONSES].update_many(
        {"tenant": {"$eq": tenant}, "customerId": {"$eq": customer_id},
         "comment": {"$exists": True, "$ne": None}},
        {"$unset": {"comment": "", "commentTerms": ""},
         "$set": {"contentHash": ERASED_HASH, "erasedAt": now}},
    )  # fmt: skip
    erased = Erased(customer=bool(found.matched_count), survey_responses=responses.modified_count)
    await mongo[ERASURES].insert_one(
        {"tenant": tenant, "customerId": customer_id, "at": now, "credential": credential,
         "customer": erased.customer, "surveyResponses": erased.survey_responses}
    )  # fmt: skip
    return erased
