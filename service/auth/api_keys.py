"""API keys: ``cxk_<id>_<secret>``, shown once; only a keyed hash of the secret is stored.

The secret has 256 bits of entropy, so a fast keyed hash (HMAC-SHA256 with
``CX_API_KEY_PEPPER``) is enough: there is nothing to brute-force that a slow hash would
protect. The id lets a lookup find the one document to compare against, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from service.domain.principal import CredentialKind, Principal, Scope, parse_scopes
from service.store import api_keys
from service.store.api_keys import StoredKey
from service.store.client import Mongo

PREFIX = "cxk"
_FORMAT = re.compile(r"^cxk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")


def digest(secret: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()


def split(key: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed key; None for anything else."""
    found = _FORMAT.match(key)
    return (found.group(1), found.group(2)) if found else None


async def create(
    mongo: Mongo, tenant: str, scopes: list[str], name: str, pepper: str
) -> tuple[str, StoredKey]:
    """A new key: the key itself (to show once) and what is stored of it."""
    checked = sorted(s.value for s in parse_scopes(scopes))
    if not checked:
        raise ValueError("a key needs at least one scope")
    if not tenant or len(tenant) > 200:
        raise ValueError("a key needs a tenant (1 to 200 characters)")
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    stored = await api_keys.insert(mongo, key_id, tenant, checked, name, digest(secret, pepper))
    return f"{PREFIX}_{key_id}_{secret}", stored


def verify(stored: StoredKey | None, secret: str, pepper: str) -> Principal | None:
    if stored is None or stored.revoked_at is not None:
        return None
    if not hmac.compare_digest(stored.hash, digest(secret, pepper)):
        return None
    return Principal(credential_id=f"key:{stored.id}", tenant=stored.tenant,
                     scopes=frozenset(Scope(s) for s in stored.scopes),
                     kind=CredentialKind.API_KEY)  # fmt: skip
