"""docs/deploy.md, for platform teams, names every setting and every metric."""

from __future__ import annotations

from service.http.observability import Observability
from service.settings import Settings
from service.store.indexes import INDEXES
from tests.deploy.dockerfile import ROOT

DEPLOY = (ROOT / "docs/deploy.md").read_text()


def test_every_setting_is_in_the_deploy_guide() -> None:
    names = [f"CX_{name.upper()}" for name in Settings.model_fields]
    assert [n for n in names if f"| `{n}` |" not in DEPLOY] == []


def test_every_metric_is_in_the_deploy_guide() -> None:
    families = [m.name for m in Observability().registry.collect()]
    assert families != []
    assert [f for f in families if f"`{f}" not in DEPLOY] == []


def test_every_indexed_collection_is_in_the_deploy_guide() -> None:
    assert [c for c in INDEXES if f"| `{c}` |" not in DEPLOY] == []
