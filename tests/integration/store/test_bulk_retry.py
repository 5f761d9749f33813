"""A batch whose insert the driver retried (after a socket timeout) still reports INSERTED."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from starlette.applications import Starlette

from service.domain.model import RecordStatus
from service.store import bulk
from service.store.bulk import Candidate, write_batch

FIXED = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _candidates() -> list[Candidate]:
    return [
        Candidate(index=i, doc={"_id": f"x{i}", "tenant": "t", "source": "s",
                                "externalId": f"e{i}", "contentHash": f"h{i}"})
        for i in range(3)
    ]  # fmt: skip


async def test_a_retried_insert_meets_its_own_documents_and_says_inserted(
    app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    collection: Any = app.state.cx.mongo["customers"]
    monkeypatch.setattr(bulk.uuid, "uuid4", lambda: FIXED)
    # The first attempt landed, but its answer was lost: the documents carry this write's id.
    landed = [{**c.doc, "writeId": FIXED.hex} for c in _candidates()[:2]]
    await collection.insert_many(landed)

    report = await write_batch(app.state.cx.mongo, "customers", _candidates())

    assert [report.outcomes[i].status for i in range(3)] == [RecordStatus.INSERTED] * 3
    assert await collection.count_documents({}) == 3


async def test_a_record_stored_by_another_write_is_unchanged(app: Starlette) -> None:
    collection: Any = app.state.cx.mongo["customers"]
    await collection.insert_one({**_candidates()[0].doc, "writeId": "someone-else"})

    report = await write_batch(app.state.cx.mongo, "customers", _candidates()[:1])

    assert report.outcomes[0].status is RecordStatus.UNCHANGED
