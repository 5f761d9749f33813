"""Where `cxgraph dev` leaves the embedded database's URI, so admin commands can reach it.

The embedded database listens on a port the OS picks. `cxgraph dev` writes its URI into the
data directory while it runs (and removes it on the way out); `cxgraph rollups rebuild` and
`cxgraph demo load` read it there when CX_MONGO_URI is unset.
"""

from __future__ import annotations

from pathlib import Path

URI_FILE = "mongo-uri"


def record(data_dir: str | Path, uri: str) -> Path:
    path = Path(data_dir) / URI_FILE
    path.write_text(uri + "\n")
    return path


def forget(data_dir: str | Path, uri: str) -> None:
    """Remove the record, unless another `cxgraph dev` has written its own since."""
    path = Path(data_dir) / URI_FILE
    if recorded(data_dir) == uri:
        path.unlink(missing_ok=True)


def recorded(data_dir: str | Path) -> str | None:
    try:
        uri = (Path(data_dir) / URI_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return uri or None
