"""`cxgraph dev` records its embedded database's URI in the data directory while it runs, so
the admin commands (service/cli/admin.py reads it) can reach it."""

from __future__ import annotations

from pathlib import Path

from service.cli.admin import URI_FILE, recorded


def record(data_dir: str | Path, uri: str) -> Path:
    path = Path(data_dir) / URI_FILE
    path.write_text(uri + "\n")
    return path


def forget(data_dir: str | Path, uri: str) -> None:
    """Remove the record, unless another `cxgraph dev` has written its own since."""
    path = Path(data_dir) / URI_FILE
    if recorded(data_dir) == uri:
        path.unlink(missing_ok=True)
