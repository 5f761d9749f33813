"""Admin commands' database: CX_MONGO_URI, else the one a running `cxgraph dev` recorded.

Where `cxgraph dev` leaves the embedded database's URI, so admin commands can reach it.

The embedded database listens on a port the OS picks. `cxgraph dev` writes its URI into the
data directory while it runs (and removes it on the way out); `cxgraph rollups rebuild` and
`cxgraph demo load`, `cxgraph keys` and `cxgraph tenants` read it there when CX_MONGO_URI is
unset.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from service.settings import Settings
from service.store.client import Mongo, connect
from service.store.indexes import ensure_indexes
from service.store.liveness import answers

URI_FILE = "mongo-uri"


def recorded(data_dir: str | Path) -> str | None:
    try:
        uri = (Path(data_dir) / URI_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return uri or None


def admin_settings(settings: Settings, data_dir: str | None, command: str) -> Settings | None:
    """CX_MONGO_URI, else the embedded database a running `cxgraph dev` (`make run`) recorded
    in the data directory; None (after saying why) when there is neither."""
    if settings.mongo_uri:
        return settings
    data_dir = data_dir or settings.data_dir
    uri = recorded(data_dir)
    if uri is None:
        print(f"cxgraph {command}: CX_MONGO_URI is not set and no running `make run` database "
              f"is recorded in {data_dir}: start `make run` (or pass --data-dir), or set "
              "CX_MONGO_URI", file=sys.stderr)  # fmt: skip
        return None
    if not answers(uri):
        print(f"cxgraph {command}: the `make run` database recorded in {data_dir} ({uri}) does "
              "not answer: is `make run` still running?", file=sys.stderr)  # fmt: skip
        return None
    print(f"using the `make run` database at {uri} (recorded in {data_dir})", file=sys.stderr)
    return settings.model_copy(update={"mongo_uri": uri})


def run_admin(
    settings: Settings,
    command: str,
    work: Callable[[Mongo], Awaitable[int]],
    data_dir: str | None = None,
) -> int:
    """Run an admin command's ``work(mongo)`` against CX_MONGO_URI or the running `make run`
    database (indexes ensured first); 2 when there is neither."""
    found = admin_settings(settings, data_dir, command)
    if found is None:
        return 2

    async def run() -> int:
        mongo = connect(found)
        try:
            await ensure_indexes(mongo)
            return await work(mongo)
        finally:
            await mongo.close()

    return asyncio.run(run())
