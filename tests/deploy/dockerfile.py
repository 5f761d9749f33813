"""Read the Dockerfile's final stage: the command it runs, its environment, what it copies."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass
class Stage:
    base: str
    env: dict[str, str] = field(default_factory=dict)
    copies: list[str] = field(default_factory=list)  # sources copied from the build context
    cmd: list[str] = field(default_factory=list)
    user: str = ""


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))  # fmt: skip
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def stages(text: str | None = None) -> list[Stage]:
    result: list[Stage] = []
    for word, args in instructions(text if text is not None else DOCKERFILE.read_text()):
        if word == "FROM":
            result.append(Stage(base=args.split()[0]))
        elif word == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                result[-1].env[key] = value
        elif word == "COPY" and "--from" not in args:
            result[-1].copies.extend(args.split()[:-1])
        elif word == "CMD":
            result[-1].cmd = json.loads(args)
        elif word == "USER":
            result[-1].user = args
    return result
