"""The README documents every setting."""

from __future__ import annotations

from pathlib import Path

from service.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [
        f"CX_{name.upper()}"
        for name in Settings.model_fields
        if f"| `CX_{name.upper()}` |" not in README
    ]
    assert missing == []
