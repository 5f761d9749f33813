"""Every root field runs under the database watch (docs/adr/0016): a field still waiting on a
database that stopped answering ends with UNAVAILABLE at its own path, and the other fields
of the request answer as they would (docs/adr/0007)."""

from __future__ import annotations

from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types import Info


class WatchDatabase(FieldExtension):
    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info, **kwargs: Any
    ) -> Any:
        async with info.context.request.app.state.cx.watch.guard():
            return await next_(source, info, **kwargs)


def watch_root_fields(*root_types: type) -> None:
    """Add the watch to every field of the root types (once, however often it is called)."""
    for root in root_types:
        definition = root.__strawberry_definition__  # type: ignore[attr-defined]
        for field in definition.fields:
            if not any(isinstance(e, WatchDatabase) for e in field.extensions):
                field.extensions.append(WatchDatabase())


__all__ = ["WatchDatabase", "watch_root_fields"]
