"""The development key of the demo tenant, kept beside the data so `make run` prints the same
one on every start while the database still knows it."""

from __future__ import annotations

import os
from pathlib import Path

from service.auth import api_keys
from service.domain.principal import Scope
from service.settings import Settings
from service.store import api_keys as stored_keys
from service.store.client import Mongo

DEV_SCOPES = [s.value for s in Scope]


def dev_key_path(settings: Settings) -> Path:
    return Path(settings.data_dir).parent / "dev-api-key"


async def ensure_dev_key(mongo: Mongo, settings: Settings) -> str:
    """The development key of the demo tenant: the one kept beside the data, while the
    database still knows it; a new one otherwise."""
    path = dev_key_path(settings)
    if path.exists():
        kept = path.read_text().strip()
        parts = api_keys.split(kept)
        if parts is not None:
            stored = await stored_keys.get(mongo, parts[0])
            if api_keys.verify(stored, parts[1], settings.api_key_pepper) is not None:
                return kept
    key, _ = await api_keys.create(mongo, settings.default_tenant, DEV_SCOPES,
                                   "development (make run)", settings.api_key_pepper)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    os.chmod(path, 0o600)
    return key
