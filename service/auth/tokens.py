"""JWT bearer tokens (PyJWT): HS256 with a shared secret, or RS256/ES256 with a public key,
a JWKS URL or a JWKS file. ``exp``, ``nbf``, ``aud`` and ``iss`` are checked with a small
leeway; tenant and scopes come from claims whose names are settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt

from service.domain.principal import CredentialKind, Principal, parse_scopes
from service.settings import Settings

SYMMETRIC = ["HS256"]
ASYMMETRIC = ["RS256", "ES256"]


class TokenInvalid(Exception):
    pass


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks_client = (
            jwt.PyJWKClient(settings.jwt_jwks_url) if settings.jwt_jwks_url else None
        )
        self._jwks_file = self._load_jwks(settings.jwt_jwks_file)
        asymmetric = bool(settings.jwt_public_key or self._jwks_client or self._jwks_file)
        configured = [a.strip() for a in settings.jwt_algorithms.split(",") if a.strip()]
        # A key of one kind only ever verifies its own algorithms: no HS/RS confusion, no none.
        allowed = ASYMMETRIC if asymmetric else SYMMETRIC
        self.algorithms = [a for a in (configured or allowed) if a in allowed]

    @property
    def enabled(self) -> bool:
        s = self.settings
        return bool(s.jwt_secret or s.jwt_public_key or self._jwks_client or self._jwks_file)

    @staticmethod
    def _load_jwks(path: str | None) -> jwt.PyJWKSet | None:
        return jwt.PyJWKSet.from_dict(json.loads(Path(path).read_text())) if path else None

    def _key(self, token: str) -> Any:
        s = self.settings
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key_from_jwt(token).key
        if self._jwks_file is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            for key in self._jwks_file.keys:
                if key.key_id == kid:
                    return key.key
            raise TokenInvalid("no key in the JWKS file matches the token's kid")
        return s.jwt_public_key or s.jwt_secret

    def verify(self, token: str) -> Principal:
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=self.algorithms,
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                leeway=s.jwt_leeway_s,
                options={"require": ["exp"], "verify_aud": s.jwt_audience is not None},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenInvalid(str(exc)) from None
        tenant = claims.get(s.jwt_tenant_claim)
        if not isinstance(tenant, str) or not tenant:
            raise TokenInvalid(f"the token has no {s.jwt_tenant_claim!r} claim")
        raw_scopes = claims.get(s.jwt_scopes_claim, "")
        if not isinstance(raw_scopes, str | list):
            raise TokenInvalid(f"the {s.jwt_scopes_claim!r} claim is not a list of scopes")
        try:
            scopes = parse_scopes(raw_scopes)
        except ValueError as exc:
            raise TokenInvalid(str(exc)) from None
        subject = str(claims.get("sub", "?"))
        return Principal(credential_id=f"jwt:{subject}", tenant=tenant, scopes=scopes,
                         kind=CredentialKind.JWT)  # fmt: skip
