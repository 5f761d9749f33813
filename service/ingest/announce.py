"""What a write tells the outside world (webhooks) before its intent closes (docs/adr/0022).

The Ingestor calls its announcer, when it has one, with the survey responses a batch stored
after the batch's effects are applied and before its write intent is deleted. So an
announcement lost to a failure is repeated: the client's resend finds the failed write's
intent and announces the records that write stored (status RECOVERED); a write nobody
resends is announced by the recovery that applies its intent. Ingestion never waits for a
delivery: the announcer only records what is to be sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from service.domain.model import RecordStatus
from service.store.bulk import Candidate, WriteReport
from service.store.write_intents import WriteIntent

RECOVERED = "RECOVERED"


@dataclass(frozen=True)
class Written:
    id: str
    source: str
    external_id: str
    status: str  # INSERTED, UPDATED or RECOVERED
    write: str  # the id of the write intent that stored it


class Announcer(Protocol):
    async def responses_written(self, tenant: str, data_version: int,
                                records: list[Written]) -> None: ...  # fmt: skip

    async def write_recovered(self, tenant: str, data_version: int, write: str,
                              record_ids: frozenset[str]) -> None: ...  # fmt: skip


def written_records(
    candidates: Iterable[Candidate],
    report: WriteReport,
    intent: WriteIntent,
    unfinished: Iterable[WriteIntent],
) -> list[Written]:
    """The records this write stored, and those an unfinished earlier write stored (found
    UNCHANGED now) that it never announced."""
    earlier = {record: other.id for other in unfinished for record in other.records}
    found = []
    for c in candidates:
        outcome = report.outcomes.get(c.index)
        if outcome is None:
            continue
        record = c.doc["_id"]
        if outcome.status in (RecordStatus.INSERTED, RecordStatus.UPDATED):
            status, write = outcome.status.value, intent.id
        elif outcome.status is RecordStatus.UNCHANGED and record in earlier:
            status, write = RECOVERED, earlier[record]
        else:
            continue
        found.append(Written(record, c.doc["source"], c.doc["externalId"], status, write))
    return found
