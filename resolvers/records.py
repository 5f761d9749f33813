"""Strawberry input objects to the plain records the ingestion layer validates."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


def as_record(value: Any) -> Any:
    """Input objects become dicts keyed by GraphQL field names; unset fields are left out."""
    if isinstance(value, Enum):
        return value.value
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is not None:
        out = {}
        for f in definition.fields:
            item = getattr(value, f.python_name)
            if item is not strawberry.UNSET:
                out[f.graphql_name or _camel(f.python_name)] = as_record(item)
        return out
    if isinstance(value, list):
        return [as_record(v) for v in value]
    return value
