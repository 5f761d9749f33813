"""docs/errors.md lists every error code an answer can carry, and only those.

The codes are read from the source, so a new code without a row (or a row whose code is
gone) fails here: `extensions.code` and `extensions.reason` values of GraphQL errors, the
per-record `error.code` of bulk writes, and the NDJSON route's codes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$|^[A-Z]{4,}$")
# Modules whose every upper-case string constant is an error code.
CODE_MODULES = ["service/domain/errors.py", "resolvers/errors.py", "service/domain/ingest/codes.py",
                "service/http/ndjson.py", "service/http/edge.py",
                "service/http/persisted_queries.py"]  # fmt: skip
PACKAGES = ["service", "resolvers", "schema"]
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _constant(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.match(node.value):
        # Setting names (CX_…) and HTTP methods appear beside codes in those modules.
        return None if node.value.startswith("CX_") or node.value in HTTP_METHODS else node.value
    return None


def _codes_in(tree: ast.AST, every_constant: bool) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if every_constant and (value := _constant(node)):
            found.add(value)
        elif isinstance(node, ast.keyword) and node.arg in ("code", "reason"):
            if value := _constant(node.value):
                found.add(value)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:  # `code = "NOT_FOUND"` on an error class
                if (
                    isinstance(item, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "code" for t in item.targets)
                    and (value := _constant(item.value))
                ):
                    found.add(value)
    return found


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            found |= _codes_in(ast.parse(path.read_text()), relative in CODE_MODULES)
    return found


def codes_in_doc() -> list[str]:
    rows = [line for line in (ROOT / "docs/errors.md").read_text().splitlines()
            if line.startswith("| `")]  # fmt: skip
    return [re.match(r"\| `([A-Z0-9_]+)`", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_the_error_table_lists_exactly_the_codes_the_service_uses() -> None:
    documented = codes_in_doc()

    assert len(documented) == len(set(documented)), "a code has two rows"
    assert set(documented) == codes_in_source()


def test_every_row_says_what_a_client_should_do() -> None:
    for line in (ROOT / "docs/errors.md").read_text().splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert len(cells) == 4 and all(cells), line
