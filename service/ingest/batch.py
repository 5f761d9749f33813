"""Turning a batch of raw records into write candidates and rejections."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from service.domain.errors import BatchTooLarge
from service.domain.ingest import codes
from service.domain.ingest.checks import RecordError, RecordInvalid
from service.domain.model import RecordStatus
from service.store.bulk import Candidate, Outcome

Validator = Callable[[int, Mapping[str, Any]], Candidate]


def check_size(records: Sequence[Any], limit: int) -> None:
    if len(records) > limit:
        raise BatchTooLarge(len(records), limit)


def _key(record: Any) -> tuple[str, str] | None:
    if not isinstance(record, Mapping):
        return None
    source, external_id = record.get("source"), record.get("externalId")
    if isinstance(source, str) and isinstance(external_id, str):
        return source, external_id
    return None


def _external_id(record: Any) -> str | None:
    value = record.get("externalId") if isinstance(record, Mapping) else None
    return value if isinstance(value, str) else None


def prepare(
    records: Sequence[Any], validate: Validator
) -> tuple[list[Candidate], dict[int, Outcome]]:
    """Validate each record on its own; duplicates inside the batch are all rejected,
    since which of two versions the partner meant cannot be known."""
    positions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        key = _key(record)
        if key is not None:
            positions[key].append(i)
    duplicates = {i: p for p in positions.values() if len(p) > 1 for i in p}

    candidates: list[Candidate] = []
    rejected: dict[int, Outcome] = {}
    for i, record in enumerate(records):
        if i in duplicates:
            others = [str(j) for j in duplicates[i] if j != i]
            error = RecordError(
                codes.DUPLICATE_IN_BATCH,
                "externalId",
                f"externalId {_external_id(record)!r} of this source is also at index "
                f"{', '.join(others)} of this batch; send one version of a record per batch",
            )
            rejected[i] = Outcome(i, _external_id(record), RecordStatus.REJECTED, error=error)
            continue
        if not isinstance(record, Mapping):
            error = RecordError(codes.WRONG_TYPE, None, "a record must be an object")
            rejected[i] = Outcome(i, None, RecordStatus.REJECTED, error=error)
            continue
        try:
            candidates.append(validate(i, record))
        except RecordInvalid as invalid:
            rejected[i] = Outcome(
                i, _external_id(record), RecordStatus.REJECTED, error=invalid.error
            )
    return candidates, rejected
