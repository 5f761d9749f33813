"""`cxgraph keys create|list|revoke` and the development key `make run` prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from devtools.dev_key import dev_key_path, ensure_dev_key
from tests.conftest import run_cli


def keyed(key: str) -> dict[str, str]:
    return {"x-api-key": key}


async def test_create_list_and_revoke(
    app: Starlette, cli_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run_cli("keys", "create", "--tenant", "acme", "--scope", "data:write",
                     "--scope", "metrics:read", "--name", "crm-eu")  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    key = lines[-1]  # the key alone, on the last line
    assert key.startswith("cxk_") and " " not in key
    key_id = key.split("_")[1]
    assert "acme" in lines[0] and "data:write metrics:read" in lines[0]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        ok = await client.post("/graphql", json={"query": "{ metric(kind: NPS) { n } }"},
                               headers=keyed(key))  # fmt: skip
        assert ok.status_code == 200

        assert await run_cli("keys", "list") == 0
        listing = capsys.readouterr().out
        assert key_id in listing and "crm-eu" in listing and "acme" in listing
        assert key.split("_", 2)[2] not in listing  # never the secret

        assert await run_cli("keys", "revoke", key_id) == 0
        assert "revoked" in capsys.readouterr().out
        assert await run_cli("keys", "revoke", key_id) == 1  # already revoked
        app.state.cx.authenticator._verified.clear()  # this test does not wait out the cache
        refused = await client.post("/graphql", json={"query": "{ metric(kind: NPS) { n } }"},
                                    headers=keyed(key))  # fmt: skip
        assert refused.status_code == 401


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "create", "--tenant", "acme", "--scope", "root"],
        ["keys", "create", "--tenant", "acme"],
    ],
)
async def test_create_refuses_bad_scopes(cli_env: Any, args: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        await run_cli(*args)
    assert exit_.value.code == 2


async def test_the_development_key_is_kept_and_reused(app: Starlette, tmp_path: Path) -> None:
    state = app.state.cx
    settings = state.settings.model_copy(update={"data_dir": str(tmp_path / "data")})
    first = await ensure_dev_key(state.mongo, settings)
    assert dev_key_path(settings).read_text().strip() == first
    assert dev_key_path(settings).stat().st_mode & 0o777 == 0o600
    assert await ensure_dev_key(state.mongo, settings) == first  # a restart keeps it
    dev_key_path(settings).write_text("cxk_0000000000000000_" + "x" * 43)  # stale or foreign
    assert await ensure_dev_key(state.mongo, settings) != first
