"""The principal a request acts as: its credential, its tenant and what it may do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    METRICS_READ = "metrics:read"  # aggregates only
    DATA_READ = "data:read"  # customer-level records and PII
    DATA_WRITE = "data:write"
    WEBHOOKS_READ = "webhooks:read"  # the tenant's webhooks (never their secrets), deliveries
    WEBHOOKS_WRITE = "webhooks:write"  # define, switch, delete webhooks; resend deliveries
    ADMIN = "admin"  # everything


class CredentialKind(StrEnum):
    API_KEY = "api_key"
    JWT = "jwt"
    ANONYMOUS = "anonymous"  # only with CX_AUTH=disabled


@dataclass(frozen=True)
class Principal:
    credential_id: str
    tenant: str
    scopes: frozenset[Scope]
    kind: CredentialKind

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


def parse_scopes(values: list[str] | str) -> frozenset[Scope]:
    """Scopes from a list or a space-separated claim; an unknown one is an error."""
    items = values.split() if isinstance(values, str) else values
    known = {s.value: s for s in Scope}
    unknown = [v for v in items if v not in known]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}; one of {', '.join(known)}")
    return frozenset(known[v] for v in items)
