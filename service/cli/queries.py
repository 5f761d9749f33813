"""``cxgraph queries register FILE | list | remove HASH``: the registered documents.

A file (``.graphql``) holds one or more operations and the fragments they use. It is
checked against the schema, then registered as a whole and as each operation alone (with
the fragments it uses, in the file's order): a client may send the file with an
``operationName``, or one operation as Apollo Client does. Each is kept under the hash of
its normalised text, so spacing, comments and argument order do not matter. Registered
documents are global: they are what the deployed clients may run, whoever their tenant.
With ``CX_ONLY_REGISTERED_QUERIES=true`` nothing else runs (docs/adr/0023).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    Visitor,
    build_schema,
    parse,
    print_ast,
    validate,
    visit,
)

from service.cli import admin
from service.http.response_cache import Documents
from service.settings import get_settings
from service.store import registered_queries
from service.store.client import Mongo

MAX_FILE_BYTES = 1_048_576


@dataclass(frozen=True)
class Registrable:
    digest: str  # of the normalised text (what the allow-list matches)
    text: str  # what runs when a client sends only its hash
    operations: list[str]
    hashes: list[str]  # sha256 of the texts a client may send as they are


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: object) -> None:
        self.names.add(node.name.value)


def _spreads(node: OperationDefinitionNode | FragmentDefinitionNode) -> set[str]:
    found = _Spreads()
    visit(node, found)
    return found.names


def _with_fragments(
    operation: OperationDefinitionNode, fragments: list[FragmentDefinitionNode]
) -> DocumentNode:
    """The operation and the fragments it uses (transitively), in the file's order."""
    by_name = {f.name.value: f for f in fragments}
    needed, todo = set(), list(_spreads(operation))
    while todo:
        name = todo.pop()
        if name not in needed and name in by_name:
            needed.add(name)
            todo.extend(_spreads(by_name[name]))
    return DocumentNode(definitions=(operation, *[f for f in fragments
                                                  if f.name.value in needed]))  # fmt: skip


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def registrable(text: str, schema: GraphQLSchema) -> list[Registrable]:
    """The documents a file registers; GraphQLError when it does not parse or validate."""
    document = parse(text, no_location=False)
    errors = validate(schema, document)
    if errors:
        raise errors[0]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = [d for d in document.definitions if isinstance(d, FragmentDefinitionNode)]
    if not operations:
        raise GraphQLError("the file holds no operation (query, mutation or subscription)")
    documents = Documents(size=len(operations) + 1)
    out: dict[str, Registrable] = {}

    def add(text: str, names: list[str], hashes: list[str]) -> None:
        described = documents.get(text)
        assert described is not None  # it parsed above
        known = out.get(described.digest)
        if known is not None:  # the file is one operation: one entry, both hashes
            hashes = [*known.hashes, *[h for h in hashes if h not in known.hashes]]
            text, names = known.text, known.operations
        out[described.digest] = Registrable(described.digest, text, names, hashes)

    add(text, [op.name.value if op.name else "" for op in operations], [_sha256(text)])
    for op in operations:
        alone = print_ast(_with_fragments(op, fragments))
        add(alone, [op.name.value if op.name else ""], [_sha256(alone)])
    return list(out.values())


def _schema() -> GraphQLSchema:
    from service.http.app import export_sdl  # the composition root builds the schema

    return build_schema(export_sdl())


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queries = commands.add_parser(
        "queries", help="registered documents (CX_ONLY_REGISTERED_QUERIES accepts only these)"
    )
    query_commands = queries.add_subparsers(dest="queries_command", required=True)
    register = query_commands.add_parser(
        "register", help="register a .graphql file's operations (checked against the schema)"
    )
    register.add_argument("file")
    register.add_argument("--data-dir", help="without CX_MONGO_URI: a `make run` data dir")
    register.set_defaults(func=cmd_register)
    listing = query_commands.add_parser("list", help="the registered documents and their hashes")
    listing.add_argument("--data-dir", help="without CX_MONGO_URI: a `make run` data dir")
    listing.set_defaults(func=cmd_list)
    remove = query_commands.add_parser("remove", help="stop accepting a registered document")
    remove.add_argument("hash", help="its hash, as `cxgraph queries list` shows it")
    remove.add_argument("--data-dir", help="without CX_MONGO_URI: a `make run` data dir")
    remove.set_defaults(func=cmd_remove)


def cmd_register(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(f"{path} is over {MAX_FILE_BYTES} bytes")
        text = raw.decode()
        entries = registrable(text, _schema())
    except (OSError, ValueError) as exc:
        print(f"cxgraph queries register: {exc}", file=sys.stderr)
        return 2
    except GraphQLError as exc:
        print(f"cxgraph queries register: {path}: {exc.message} "
              f"{_where(exc)}".rstrip(), file=sys.stderr)  # fmt: skip
        return 2

    async def work(mongo: Mongo) -> int:
        for entry in entries:
            new = await registered_queries.register(mongo, entry.digest, entry.text,
                                                    entry.operations, entry.hashes,
                                                    path.name)  # fmt: skip
            names = ",".join(n or "(anonymous)" for n in entry.operations)
            print(f"{'registered' if new else 'already registered'} {entry.digest} {names}")
        return 0

    return admin.run_admin(get_settings(), "queries register", work, args.data_dir)


def cmd_list(args: argparse.Namespace) -> int:
    async def work(mongo: Mongo) -> int:
        print("hash\toperations\tsource\tregistered")
        for r in await registered_queries.list_all(mongo):
            names = ",".join(n or "(anonymous)" for n in r.operations)
            print(f"{r.digest}\t{names}\t{r.source}\t{r.registered_at.isoformat()}")
        return 0

    return admin.run_admin(get_settings(), "queries list", work, args.data_dir)


def cmd_remove(args: argparse.Namespace) -> int:
    async def work(mongo: Mongo) -> int:
        if await registered_queries.remove(mongo, args.hash):
            print(f"removed {args.hash}; replicas stop accepting it within a few seconds")
            return 0
        print(f"cxgraph queries remove: no registered document {args.hash!r}", file=sys.stderr)
        return 1

    return admin.run_admin(get_settings(), "queries remove", work, args.data_dir)


def _where(error: GraphQLError) -> str:
    if error.locations:
        first = error.locations[0]
        return f"(line {first.line}, column {first.column})"
    return ""
