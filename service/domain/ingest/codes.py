"""Per-record error codes: stable strings clients match on. docs/ingestion.md lists them."""

from __future__ import annotations

REQUIRED = "REQUIRED"  # a required field is missing or empty
WRONG_TYPE = "WRONG_TYPE"  # a value of the wrong JSON type
UNKNOWN_FIELD = "UNKNOWN_FIELD"  # a key the record type does not have
INVALID_ENUM = "INVALID_ENUM"  # not one of the enum's values
STRING_TOO_LONG = "STRING_TOO_LONG"
ATTRIBUTES_TOO_LARGE = "ATTRIBUTES_TOO_LARGE"
TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
MISSING_UTC_OFFSET = "MISSING_UTC_OFFSET"
INVALID_SCALE = "INVALID_SCALE"  # scaleMin >= scaleMax
VALUE_OUT_OF_SCALE = "VALUE_OUT_OF_SCALE"  # value outside [scaleMin, scaleMax]
INVALID_NPS_SCALE = "INVALID_NPS_SCALE"  # an NPS answer not on the 0-10 scale
MISSING_COMPONENT = "MISSING_COMPONENT"  # a COMPONENT answer without its component
INVALID_DIRECTION = "INVALID_DIRECTION"  # highIsEasy false on an answer that is not CES
NEGATIVE_VALUE = "NEGATIVE_VALUE"
INVALID_VALUE = "INVALID_VALUE"  # not a finite number, or otherwise malformed
UNKNOWN_JOURNEY = "UNKNOWN_JOURNEY"
UNKNOWN_STAGE = "UNKNOWN_STAGE"
STAGE_WITHOUT_JOURNEY = "STAGE_WITHOUT_JOURNEY"
DUPLICATE_IN_BATCH = "DUPLICATE_IN_BATCH"  # the same (source, externalId) twice in one batch
DUPLICATE_STAGE = "DUPLICATE_STAGE"
INVALID_JSON = "INVALID_JSON"  # an NDJSON line that is not JSON (or not UTF-8)
WRITE_FAILED = "WRITE_FAILED"  # the database refused the record; retry it
