"""One request's context, built once by the HTTP edge and handed to every route."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.principal import Principal, Scope


@dataclass(frozen=True)
class RequestScope:
    """Who asks (credential, tenant, scopes), the request's id for logs and errors, and its
    deadline: the ``time.monotonic()`` instant by which its answer is due."""

    request_id: str
    principal: Principal
    deadline: float

    @property
    def tenant(self) -> str:
        return self.principal.tenant  # only ever the credential's

    @property
    def credential_id(self) -> str:
        return self.principal.credential_id

    @property
    def scopes(self) -> frozenset[Scope]:
        return self.principal.scopes
