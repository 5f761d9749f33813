"""From request headers to a principal: ``Authorization: Bearer <key or JWT>`` or
``X-API-Key: <key>``; deny by default. Verified keys are remembered for ``CX_AUTH_CACHE_S``
seconds, so a revoked key stops working on every replica within that time."""

from __future__ import annotations

import time
from collections.abc import Mapping

from service.auth import api_keys
from service.auth.tokens import TokenInvalid, TokenVerifier
from service.domain.principal import CredentialKind, Principal, Scope
from service.settings import AuthMode, Settings
from service.store import api_keys as stored_keys
from service.store.client import Mongo


class Unauthenticated(Exception):
    """No credential, or one that does not verify; the message says which."""


ANONYMOUS_SCOPES = frozenset(Scope)


class Authenticator:
    def __init__(self, mongo: Mongo, settings: Settings) -> None:
        self.mongo = mongo
        self.settings = settings
        self.tokens = TokenVerifier(settings)
        self._verified: dict[str, tuple[float, Principal]] = {}

    def remembered(self, headers: Mapping[str, str]) -> Principal | None:
        """The principal of an API key verified less than ``CX_AUTH_CACHE_S`` ago: what
        ``authenticate`` would answer without reading the database (None otherwise)."""
        credential = _credential(headers)
        found = self._verified.get(credential) if credential is not None else None
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        credential = _credential(headers)
        if credential is None:
            if self.settings.auth is AuthMode.DISABLED:
                return Principal("anonymous", self.settings.default_tenant, ANONYMOUS_SCOPES,
                                 CredentialKind.ANONYMOUS)  # fmt: skip
            raise Unauthenticated(
                "send a credential: Authorization: Bearer <API key or token>, or X-API-Key"
            )
        parts = api_keys.split(credential)
        if parts is not None:
            return await self._api_key(credential, *parts)
        if credential.startswith(f"{api_keys.PREFIX}_"):
            raise Unauthenticated("the API key is malformed")
        if not self.tokens.enabled:
            raise Unauthenticated("the credential is not a valid API key")
        try:
            return self.tokens.verify(credential)
        except TokenInvalid as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from None

    async def _api_key(self, credential: str, key_id: str, secret: str) -> Principal:
        now = time.monotonic()
        remembered = self._verified.get(credential)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        stored = await stored_keys.get(self.mongo, key_id)
        principal = api_keys.verify(stored, secret, self.settings.api_key_pepper)
        if principal is None:
            self._verified.pop(credential, None)
            raise Unauthenticated("the API key is unknown or revoked")
        if len(self._verified) > 10_000:  # bounded: forget all rather than grow
            self._verified.clear()
        self._verified[credential] = (now + self.settings.auth_cache_s, principal)
        return principal


def _credential(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None
