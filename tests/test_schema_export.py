"""schema.graphql is the exported SDL, kept current: regenerate with `make schema`."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli.main import main
from service.http.app import export_sdl

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text() == export_sdl(), "schema.graphql is stale: run `make schema`"


def test_cli_exports_the_same_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "export"]) == 0
    assert capsys.readouterr().out == export_sdl()


@pytest.mark.parametrize(
    "name",
    ["defineJourney", "upsertCustomers", "recordTouchpoints", "submitSurveyResponses",
     "journeys", "journey", "customer", "customers", "touchpoints", "surveyResponses"],
)  # fmt: skip
def test_public_operations_exist(name: str) -> None:
    assert f"  {name}(" in export_sdl() or f"  {name}:" in export_sdl()
