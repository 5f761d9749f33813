"""write_intents: an outbox of the side effects a write still owes (docs/adr/0006).

A batch writes its intent first — the rollup days its records fall on and the customers
whose segments may need copying to earlier records — then the raw documents, then the
side effects, and only then deletes the intent. If anything fails in between (a database
error, a cancelled request, a killed pod) the intent stays behind, and whoever finds it
applies its effects again: a later write that overlaps it (the client's resend), or the
periodic recovery once it is old enough. Applying effects twice only costs a recompute,
so any writer may apply an intent; only its owner, or recovery, deletes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.store.client import Mongo, to_list
from service.store.indexes import WRITE_INTENTS


@dataclass(frozen=True)
class WriteIntent:
    id: str
    tenant: str
    days: frozenset[str]  # tenant-local rollup days the batch's records fall on
    customers: frozenset[str]  # customer ids whose segments may need propagating
    records: frozenset[str]  # the batch's record ids: a resend overlaps by these
    customers_written: bool  # a customer batch: bumps the customers version too
    at: datetime

    def overlaps(self, other: WriteIntent) -> bool:
        return not (
            self.records.isdisjoint(other.records)
            and self.days.isdisjoint(other.days)
            and self.customers.isdisjoint(other.customers)
        )


def _from_doc(doc: dict[str, object]) -> WriteIntent:
    at = doc["at"]
    assert isinstance(at, datetime)
    return WriteIntent(
        id=str(doc["_id"]),
        tenant=str(doc["tenant"]),
        days=frozenset(doc.get("days") or ()),  # type: ignore[call-overload]
        customers=frozenset(doc.get("customers") or ()),  # type: ignore[call-overload]
        records=frozenset(doc.get("records") or ()),  # type: ignore[call-overload]
        customers_written=bool(doc.get("customersWritten")),
        at=at,
    )


async def open_intent(
    mongo: Mongo,
    tenant: str,
    days: Iterable[str],
    customers: Iterable[str],
    records: Iterable[str],
    customers_written: bool = False,
) -> WriteIntent:
    intent = WriteIntent(
        id=uuid.uuid4().hex,
        tenant=tenant,
        days=frozenset(days),
        customers=frozenset(customers),
        records=frozenset(records),
        customers_written=customers_written,
        at=datetime.now(UTC),
    )
    await mongo[WRITE_INTENTS].insert_one(
        {"_id": intent.id, "tenant": tenant, "days": sorted(intent.days),
         "customers": sorted(intent.customers), "records": sorted(intent.records),
         "customersWritten": customers_written,
         "at": intent.at}
    )  # fmt: skip
    return intent


async def close_intent(mongo: Mongo, intent: WriteIntent) -> None:
    await mongo[WRITE_INTENTS].delete_one({"_id": intent.id})


async def pending(mongo: Mongo, tenant: str) -> list[WriteIntent]:
    """The tenant's open intents (normally none, or the few batches in flight)."""
    docs = await to_list(mongo[WRITE_INTENTS].find({"tenant": tenant}))
    return [_from_doc(d) for d in docs]


async def any_open(mongo: Mongo, tenant: str) -> bool:
    """Whether any write of the tenant is between its intent and its close."""
    return await mongo[WRITE_INTENTS].find_one({"tenant": tenant}, {"_id": 1}) is not None


async def seal(mongo: Mongo, intent: WriteIntent) -> bool:
    """Just before a batch bumps with a chunk (docs/adr/0024): False when recovery has taken
    the intent meanwhile (the batch then bumps without one). Sealing restarts the intent's
    clock, so recovery does not take it between this and the bump."""
    done = await mongo[WRITE_INTENTS].update_one(
        {"_id": intent.id}, {"$set": {"at": datetime.now(UTC)}}
    )
    return bool(done.matched_count)


async def abandoned(mongo: Mongo, older_than: timedelta) -> list[WriteIntent]:
    """Intents of any tenant opened longer ago than any live write takes."""
    cutoff = datetime.now(UTC) - older_than
    docs = await to_list(mongo[WRITE_INTENTS].find({"at": {"$lt": cutoff}}))
    return [_from_doc(d) for d in docs]


async def add_days(mongo: Mongo, intent: WriteIntent | None, days: Iterable[str]) -> None:
    """Days learnt during the write (an updated response's old day) join its intent."""
    if intent is not None and days:
        await mongo[WRITE_INTENTS].update_one(
            {"_id": intent.id}, {"$addToSet": {"days": {"$each": sorted(days)}}}
        )
