"""``POST /ingest/{collection}``: NDJSON bulk ingestion for partner back-fills.

The body holds one record per line, with the field names of the GraphQL inputs. Records go
through the same :class:`~service.ingest.service.Ingestor` as the mutations, in chunks of
``CX_MAX_BATCH`` lines, so validation, idempotency and per-record results are the same. The
response streams NDJSON: after each chunk, one line per record in input order
(``{"index", "externalId", "status", "id", "error"}``), then a final line with the data
version and the counts.

- ``index`` is the record's position among the body's non-empty lines, from 0; empty lines are
  skipped and not counted.
- A line that is not JSON is rejected with ``INVALID_JSON``, one that is not an object with
  ``WRONG_TYPE`` (``field`` null); the other records land.
- The body is one batch: the same ``(source, externalId)`` twice in a body rejects every copy
  with ``DUPLICATE_IN_BATCH``, whichever chunks they fall in.
- The body is read (incrementally) to its end before anything is written, so a body over the
  limits is answered 413 with nothing stored, as ``BATCH_TOO_LARGE`` does for the mutations:
  at most ``MAX_CHUNKS`` chunks of ``CX_MAX_BATCH`` records, ``MAX_LINE_BYTES`` per line and
  ``MAX_BODY_BYTES`` in all. Lines are kept as bytes until their chunk is processed.
- A failure before the first chunk is written is answered with its status (503 for an
  unavailable database, 500 otherwise). After that the status is sent: the stream ends with
  an ``{"errors": [...]}`` line instead of the final line, and the records without a result
  line were not processed (send them again; a resend is idempotent).

Other errors are JSON with the GraphQL error shape: ``{"errors": [{"message", "extensions":
{"code"}}]}``: 404 ``NOT_FOUND`` for an unknown collection, 415 ``UNSUPPORTED_MEDIA_TYPE``
for a content type other than ``application/x-ndjson``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from service.domain.ingest import codes
from service.domain.ingest.checks import RecordError
from service.domain.model import RecordStatus
from service.domain.principal import Scope
from service.domain.request import RequestScope
from service.http.asgi import error_shape, media_type
from service.http.slow_clients import BodyTimeout
from service.ingest.service import BulkOutcome, Ingestor
from service.store.bulk import Outcome
from service.store.client import UNAVAILABLE_ERRORS

log = logging.getLogger("cxgraph.ingest")

MEDIA_TYPE = "application/x-ndjson"
MAX_CHUNKS = 100  # a body holds at most MAX_CHUNKS x CX_MAX_BATCH records
MAX_LINE_BYTES = 1 << 20  # far above any record the validation limits let through
MAX_BODY_BYTES = 256 << 20
INVALID_JSON = codes.INVALID_JSON

Ingest = Callable[[str, Sequence[Any]], Awaitable[BulkOutcome]]
COLLECTIONS: dict[str, Callable[[Ingestor], Ingest]] = {
    "customers": lambda ingestor: ingestor.upsert_customers,
    "touchpoints": lambda ingestor: ingestor.record_touchpoints,
    "survey-responses": lambda ingestor: ingestor.submit_survey_responses,
}


class PayloadTooLarge(Exception):
    def __init__(self, message: str, code: str = "PAYLOAD_TOO_LARGE") -> None:
        super().__init__(message)
        self.message, self.code = message, code


def _error(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(error_shape(message, code), status_code=status)


async def ingest_ndjson(request: Request) -> Response:
    collection = request.path_params["collection"]
    ingest_for = COLLECTIONS.get(collection)
    if ingest_for is None:
        return _error(
            404,
            f"unknown collection {collection!r}; one of {', '.join(COLLECTIONS)}",
            "NOT_FOUND",
        )
    if media_type(request.headers) != MEDIA_TYPE:
        return _error(
            415,
            f"send the records as {MEDIA_TYPE}, one JSON object per line",
            "UNSUPPORTED_MEDIA_TYPE",
        )
    state = request.app.state.cx
    ingestor: Ingestor = state.ingestor
    asker: RequestScope = request.state.request  # built by the edge (service/http/edge.py)
    if not asker.principal.allows(Scope.DATA_WRITE):
        return _error(403, "ingestion needs the scope data:write", "FORBIDDEN")
    tenant = asker.tenant
    chunk_size: int = state.settings.max_batch
    try:
        lines = await read_lines(request, MAX_CHUNKS * chunk_size)
    except PayloadTooLarge as too_large:
        return _error(413, too_large.message, too_large.code)
    except ClientDisconnect:
        return Response(status_code=400)
    except BodyTimeout as slow:
        return _error(408, f"{slow} (CX_BODY_TIMEOUT_S); nothing was stored", "REQUEST_TIMEOUT")

    results = stream_results(ingest_for(ingestor), tenant, lines, chunk_size)
    try:
        first = await anext(results)
    except UNAVAILABLE_ERRORS as exc:
        log.warning("database unavailable: %s", exc)
        return _error(503, "the database is unavailable; retry shortly", "UNAVAILABLE")
    except Exception:
        log.exception("NDJSON ingestion into %s failed", collection)
        return _error(500, "Unexpected error.", "INTERNAL_SERVER_ERROR")
    return StreamingResponse(_after(first, results, collection), media_type=MEDIA_TYPE)


async def _after(first: bytes, rest: AsyncIterator[bytes], collection: str) -> AsyncIterator[bytes]:
    """The stream once its status is sent: a failure ends it with an errors line."""
    yield first
    try:
        async for piece in rest:
            yield piece
    except UNAVAILABLE_ERRORS as exc:
        log.warning("database unavailable: %s", exc)
        yield _line(error_shape("the database is unavailable; retry shortly", "UNAVAILABLE"))
    except Exception:
        log.exception("NDJSON ingestion into %s failed", collection)
        yield _line(error_shape("Unexpected error.", "INTERNAL_SERVER_ERROR"))


async def read_lines(request: Request, max_lines: int) -> list[bytes]:
    """The body's non-empty lines, read as it arrives; PayloadTooLarge past the limits."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(_bytes_message(int(declared)))
    lines: list[bytes] = []
    tail = b""
    size = 0
    first = True
    async for piece in request.stream():
        if first and piece:
            piece, first = piece.removeprefix(b"\xef\xbb\xbf"), False  # a UTF-8 BOM
        size += len(piece)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(_bytes_message(size))
        if b"\n" not in piece:
            tail += piece
        else:
            *complete, tail = (tail + piece).split(b"\n")
            _add(lines, complete, max_lines)
        if len(tail) > MAX_LINE_BYTES:
            raise PayloadTooLarge(_line_message(len(lines)))
    _add(lines, [tail], max_lines)
    return lines


def _add(lines: list[bytes], parts: list[bytes], max_lines: int) -> None:
    for part in parts:
        line = part.strip()
        if not line:
            continue
        if len(line) > MAX_LINE_BYTES:
            raise PayloadTooLarge(_line_message(len(lines)))
        lines.append(line)
        if len(lines) > max_lines:
            raise PayloadTooLarge(
                f"the body has more than {max_lines} records ({MAX_CHUNKS} chunks of "
                f"CX_MAX_BATCH = {max_lines // MAX_CHUNKS}); nothing was stored: "
                f"split it into bodies of at most {max_lines} records",
                "BATCH_TOO_LARGE",
            )


def _bytes_message(size: int) -> str:
    return (
        f"the body is {size} bytes or more; the limit is {MAX_BODY_BYTES} bytes; "
        "nothing was stored: split it"
    )


def _line_message(index: int) -> str:
    return f"the record at index {index} is longer than {MAX_LINE_BYTES} bytes; nothing was stored"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder and encoder for every line (json.loads/dumps with options build one per call).
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _parse(line: bytes) -> Any:
    """One line as JSON: UTF-8 text (RFC 8259), without NaN or Infinity."""
    return _DECODER.decode(line.decode())


def _rejected(
    index: int, external_id: str | None, code: str, field: str | None, message: str
) -> Outcome:
    error = RecordError(code, field, message)
    return Outcome(index, external_id, RecordStatus.REJECTED, error=error)


def scan(lines: Sequence[bytes]) -> dict[int, Outcome]:
    """The lines rejected before validation, by index: not JSON, not an object, or a
    ``(source, externalId)`` that appears more than once in the body."""
    rejected: dict[int, Outcome] = {}
    positions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, line in enumerate(lines):
        try:
            record = _parse(line)
        except UnicodeDecodeError as exc:
            message = f"the line is not UTF-8 text (byte {exc.start}: {exc.reason})"
            rejected[i] = _rejected(i, None, INVALID_JSON, None, message)
            continue
        except (ValueError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            message = f"the line is not valid JSON: {reason}"
            rejected[i] = _rejected(i, None, INVALID_JSON, None, message)
            continue
        if not isinstance(record, dict):
            kind = _JSON_KINDS.get(type(record), "a number")
            message = f"a record must be a JSON object, not {kind}"
            rejected[i] = _rejected(i, None, codes.WRONG_TYPE, None, message)
            continue
        source, external_id = record.get("source"), record.get("externalId")
        if isinstance(source, str) and isinstance(external_id, str):
            positions[(source, external_id)].append(i)
    for (_, external_id), indexes in positions.items():
        if len(indexes) < 2:
            continue
        for i in indexes:
            others = ", ".join(str(j) for j in indexes if j != i)
            message = (
                f"externalId {external_id!r} of this source is also at index {others} of "
                "this body; send one version of a record per request"
            )
            rejected[i] = _rejected(i, external_id, codes.DUPLICATE_IN_BATCH, "externalId", message)
    return rejected


_JSON_KINDS: dict[type, str] = {
    list: "an array",
    str: "a string",
    bool: "a boolean",
    type(None): "null",
}


async def stream_results(
    ingest: Ingest, tenant: str, lines: Sequence[bytes], chunk_size: int
) -> AsyncIterator[bytes]:
    """Ingest the lines chunk by chunk; yield each chunk's result lines, then the summary."""
    rejected = scan(lines)
    counts: Counter[RecordStatus] = Counter()
    data_version: int | None = None
    for start in range(0, len(lines), chunk_size):
        end = min(start + chunk_size, len(lines))
        positions = [i for i in range(start, end) if i not in rejected]
        outcome = await ingest(tenant, [_parse(lines[i]) for i in positions])
        data_version = outcome.data_version
        written = {positions[r.index]: r for r in outcome.results}
        out = []
        for i in range(start, end):
            result = rejected.get(i) or written[i]
            counts[result.status] += 1
            out.append(_line(_result(i, result)))
        yield b"".join(out)
    if data_version is None:  # an empty body: report the current version
        data_version = (await ingest(tenant, [])).data_version
    yield _line(
        {
            "dataVersion": data_version,
            "inserted": counts[RecordStatus.INSERTED],
            "updated": counts[RecordStatus.UPDATED],
            "unchanged": counts[RecordStatus.UNCHANGED],
            "rejected": counts[RecordStatus.REJECTED],
        }
    )


def _result(index: int, outcome: Outcome) -> dict[str, Any]:
    error = outcome.error
    return {
        "index": index,
        "externalId": outcome.external_id,
        "status": outcome.status.value,
        "id": outcome.id,
        "error": (
            None
            if error is None
            else {"code": error.code, "field": error.field, "message": error.message}
        ),
    }


def _line(value: Mapping[str, Any]) -> bytes:
    return _ENCODER.encode(value).encode() + b"\n"
