"""Idempotent bulk writes keyed by deterministic ids.

Insert first, since most partner records are new: one unordered ``insert_many`` stores every
new record, and the unique index makes a concurrent identical batch collide (E11000) instead
of storing twice. Only the collisions are read back and compared by content hash:
equal is UNCHANGED, a stub customer is replaced (INSERTED), different is updated with a
compare-and-set on the hash it read, retried if another writer got there first.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from service.domain.ingest import codes
from service.domain.ingest.checks import RecordError
from service.domain.model import RecordStatus
from service.store.client import Doc, Mongo, find_by_ids

DUPLICATE_KEY = 11000
MAX_ATTEMPTS = 5

# Fields written once, when the document is first stored; an update never changes them.
WRITE_ONCE = frozenset({"_id", "tenant", "source", "externalId", "createdAt"})
# A touchpoint's or response's snapshot of its customer's segments stays as first recorded;
# a customer's own segments are content and do change.
SNAPSHOT = frozenset({"segments", "segmentsPending"})


@dataclass
class Outcome:
    index: int
    external_id: str | None
    status: RecordStatus
    id: str | None = None
    error: RecordError | None = None


@dataclass
class Candidate:
    """A valid record ready to write: its place in the batch and the full document."""

    index: int
    doc: Doc
    status: RecordStatus | None = None
    from_stub: bool = False


@dataclass
class WriteReport:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    promoted_stubs: list[str] = field(default_factory=list)  # customer ids that were stubs
    previous: dict[str, Doc] = field(default_factory=dict)  # updated records, as they were

    @property
    def changed(self) -> bool:
        return any(
            o.status in (RecordStatus.INSERTED, RecordStatus.UPDATED)
            for o in self.outcomes.values()
        )


def content_hash(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=_default)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def _default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot hash {type(value).__name__}")


# Called with the stored documents a batch is about to overwrite, before it does: the caller
# records what their old values touched (a response's old day) while it can still repair it.
BeforeUpdates = Callable[[list[Doc]], Awaitable[None]]


async def _nothing(_: list[Doc]) -> None:
    return None


async def write_batch(
    mongo: Mongo, collection_name: str, candidates: list[Candidate],
    before_updates: BeforeUpdates = _nothing,
) -> WriteReport:  # fmt: skip
    collection = mongo[collection_name]
    report = WriteReport()
    if not candidates:
        return report
    write_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    for c in candidates:
        c.doc.update(writeId=write_id, createdAt=now, updatedAt=now)

    pending = await _insert_new(collection, candidates, report)
    for _ in range(MAX_ATTEMPTS):
        if not pending:
            break
        pending = await _reconcile(collection, pending, write_id, now, report, before_updates)
    for c in pending:  # contended beyond reason: let the partner retry this one
        _done(report, c, RecordStatus.REJECTED, RecordError(
            codes.WRITE_FAILED, None, "the record changed concurrently too often; send it again"
        ))  # fmt: skip
    return report


def _done(
    report: WriteReport, c: Candidate, status: RecordStatus, error: RecordError | None = None
) -> None:
    report.outcomes[c.index] = Outcome(
        index=c.index,
        external_id=c.doc["externalId"],
        status=status,
        id=None if error else c.doc["_id"],
        error=error,
    )
    if c.from_stub and status is RecordStatus.INSERTED:
        report.promoted_stubs.append(c.doc["_id"])


async def _insert_new(
    collection: Any, candidates: list[Candidate], report: WriteReport
) -> list[Candidate]:
    collided: set[int] = set()
    failed: dict[int, str] = {}
    try:
        await collection.insert_many([c.doc for c in candidates], ordered=False)
    except BulkWriteError as exc:
        for err in exc.details.get("writeErrors", []):
            if err.get("code") == DUPLICATE_KEY:
                collided.add(err["index"])
            else:
                failed[err["index"]] = str(err.get("errmsg", "write failed"))
    pending = []
    for i, c in enumerate(candidates):
        if i in collided:
            pending.append(c)
        elif i in failed:
            _done(
                report, c, RecordStatus.REJECTED, RecordError(codes.WRITE_FAILED, None, failed[i])
            )
        else:
            _done(report, c, RecordStatus.INSERTED)
    return pending


async def _reconcile(
    collection: Any,
    pending: list[Candidate],
    write_id: str,
    now: datetime,
    report: WriteReport,
    before_updates: BeforeUpdates,
) -> list[Candidate]:
    existing = await _fetch(collection, (c.doc["_id"] for c in pending))
    ops: list[UpdateOne] = []
    planned: list[Candidate] = []
    retry: list[Candidate] = []
    for c in pending:
        current = existing.get(c.doc["_id"])
        if current is None:  # deleted since the insert collided: insert it again
            retry.append(c)
            continue
        if current.get("stub"):
            c.from_stub, c.status = True, RecordStatus.INSERTED
            update = {k: v for k, v in c.doc.items() if k not in ("_id", "createdAt")}
            ops.append(UpdateOne({"_id": c.doc["_id"], "stub": True},
                                 {"$set": update, "$unset": {"stub": ""}}))  # fmt: skip
        elif current.get("writeId") == write_id:  # our own insert, retried by the driver
            _done(report, c, RecordStatus.INSERTED)
            continue
        elif current.get("contentHash") == c.doc["contentHash"]:
            _done(report, c, RecordStatus.UNCHANGED)
            continue
        else:
            c.status = RecordStatus.UPDATED
            report.previous[c.doc["_id"]] = current
            keep = WRITE_ONCE | SNAPSHOT if "customerId" in c.doc else WRITE_ONCE
            update = {k: v for k, v in c.doc.items() if k not in keep}
            update["updatedAt"] = now
            ops.append(UpdateOne(
                {"_id": c.doc["_id"], "contentHash": current.get("contentHash")}, {"$set": update}
            ))  # fmt: skip
        planned.append(c)
    if retry:
        retry = await _insert_new(collection, retry, report)
    if not ops:
        return retry
    await before_updates([report.previous[c.doc["_id"]] for c in planned
                          if c.doc["_id"] in report.previous])  # fmt: skip
    result = await collection.bulk_write(ops, ordered=False)
    if result.matched_count == len(ops):
        for c in planned:
            _done(report, c, c.status or RecordStatus.UPDATED)
        return retry
    # Another writer raced us on some of these: the write id tells which updates were ours.
    after = await _fetch(collection, (c.doc["_id"] for c in planned))
    for c in planned:
        doc = after.get(c.doc["_id"], {})
        if doc.get("writeId") == write_id:
            _done(report, c, c.status or RecordStatus.UPDATED)
        elif doc.get("contentHash") == c.doc["contentHash"]:
            _done(report, c, RecordStatus.UNCHANGED)
        else:
            retry.append(c)
    return retry


async def _fetch(collection: Any, ids: Iterable[str]) -> dict[str, Doc]:
    projection = {"contentHash": 1, "stub": 1, "writeId": 1, "submittedAt": 1}
    docs = await find_by_ids(collection, list(ids), projection)
    return {d["_id"]: d for d in docs}
