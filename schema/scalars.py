"""Scalars that replace Strawberry's own: DateTime names an impossible date as such."""

from __future__ import annotations

from datetime import datetime

import dateutil.parser  # type: ignore[import-untyped]  # Strawberry's own DateTime parser
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

from service.domain.dates import impossible_date


def _parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". Expected a string.'
        )
    try:
        parsed = dateutil.parser.isoparse(value)
    except ValueError as exc:
        detail = impossible_date(value) or str(exc)
        raise StrawberryInputCoercionError(
            f'Value cannot represent a DateTime: "{value}". {detail}'
        ) from None
    if not isinstance(parsed, datetime):
        raise TypeError("isoparse returns datetimes")
    return parsed


# The same name and description as Strawberry's, so the exported schema does not change.
DATETIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description=DateTimeDefinition.description,
    specified_by_url=DateTimeDefinition.specified_by_url,
    serialize=DateTimeDefinition.serialize,
    parse_value=_parse_datetime,
    parse_literal=None,
    origin=datetime,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {datetime: DATETIME}
