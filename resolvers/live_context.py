"""A WebSocket connection's GraphQL context: what a subscription's resolver reaches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from resolvers.context import RequestContext
from service.auth.authenticator import Unauthenticated
from service.domain.errors import CxError
from service.live.hub import LiveHub


@dataclass
class LiveContext(RequestContext):
    """Built at the handshake with no principal (nothing may run before ``connection_init``),
    given the credential's principal at ``connection_init`` (service/http/websocket.py)."""

    connection_params: Any = None  # the connection_init payload, set by Strawberry
    credentials: dict[str, str] = field(default_factory=dict)
    live: LiveHub | None = None
    authenticated: bool = False

    async def recheck(self) -> None:
        """Before each answer: the credential still verifies (a revoked key or an expired
        token ends the subscription), the tenant's settings as they are now, and a deadline
        of its own for the computation."""
        cx = self.request.app.state.cx
        try:
            async with cx.watch.guard():
                principal = await cx.authenticator.authenticate(self.credentials)
        except Unauthenticated as exc:
            raise CxError(f"{exc}; the subscription ends", code="UNAUTHENTICATED") from None
        if principal.tenant != self.tenant:  # cannot happen for one credential; never mix
            raise CxError("the credential's tenant changed", code="UNAUTHENTICATED")
        self.principal = principal
        self.settings = (await cx.tenants.get(self.tenant)).applied_to(cx.settings)
        self.deadline = time.monotonic() + cx.settings.mongo_query_timeout_s
