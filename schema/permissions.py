"""Scopes on fields: deny by default, per field, so a query asking for metrics and customers
with only ``metrics:read`` gets the metrics and one FORBIDDEN error naming the scope."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from service.domain.principal import Scope


class _Needs(BasePermission):
    scopes: ClassVar[tuple[Scope, ...]] = ()

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        principal = info.context.principal
        return any(principal.allows(scope) for scope in self.scopes)


def _needs(*scopes: Scope) -> type[BasePermission]:
    named = " or ".join(s.value for s in scopes)
    return type(
        f"Needs_{'_'.join(s.name for s in scopes)}",
        (_Needs,),
        {
            "scopes": scopes,
            "message": f"this field needs the scope {named}",
            "error_extensions": {"code": "FORBIDDEN", "scope": named},
        },
    )


MetricsRead = _needs(Scope.METRICS_READ)
DataRead = _needs(Scope.DATA_READ)
DataWrite = _needs(Scope.DATA_WRITE)
# Journey definitions carry no personal data; dashboards need them for their stages.
JourneysRead = _needs(Scope.METRICS_READ, Scope.DATA_READ)
WebhooksRead = _needs(Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE)
WebhooksWrite = _needs(Scope.WEBHOOKS_WRITE)
