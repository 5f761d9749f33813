"""The ``cxgraph`` command: serve, admin commands, schema export (and, from a source
checkout, the development commands of devtools/)."""

from __future__ import annotations

import argparse
import importlib
import logging
import math
import sys
from collections.abc import Sequence
from typing import Any

from service.cli import admin, comments, keys, queries, tenants
from service.settings import Settings, get_settings

log = logging.getLogger("cxgraph")


def serve(settings: Settings, host: str, port: int) -> None:
    import functools

    import uvicorn

    from service.http import access_log
    from service.http.app import create_app
    from service.http.shutdown import GracefulServer, Lifecycle

    access_log.install(LOG_FORMAT)  # lines written in batches, not one system call each
    lifecycle = Lifecycle()
    config = uvicorn.Config(
        functools.partial(create_app, settings, lifecycle=lifecycle),
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        server_header=False,
        access_log=False,  # the edge writes one richer line per request (service/http/edge.py)
        ws_max_size=settings.max_body_bytes,  # a WebSocket message is bounded like a body
    )
    GracefulServer(config, lifecycle, settings.shutdown_delay_s).run()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.mongo_uri:
        print("CX_MONGO_URI is not set. `make run` (or `cxgraph dev`) starts an embedded "
              "database for development.", file=sys.stderr)  # fmt: skip
        return 2
    serve(settings, args.host or settings.host, args.port or settings.port)
    return 0


def cmd_rollups_rebuild(args: argparse.Namespace) -> int:
    from service.metrics import rebuild
    from service.tenancy.directory import TenantDirectory

    async def work(mongo: Any) -> int:
        settings = get_settings()
        tenant = args.tenant or settings.default_tenant
        tz = (await TenantDirectory(mongo, settings).get(tenant)).tz
        if args.check:
            report = await rebuild.check(mongo, tenant, tz)
            print(f"rollups: {report.days} days with data, {len(report.drifted)} drifted, "
                  f"{len(report.pending)} pending materialisation")  # fmt: skip
            for day in report.drifted:
                print(f"drift: {day}")
            return 1 if report.drifted else 0
        report = await rebuild.rebuild(mongo, tenant, tz)
        print(f"rollups: rebuilt {report.rebuilt} days; {len(report.changed)} differed "
              f"from their raw documents ({len(report.pending)} were pending "
              f"materialisation); data version now {report.data_version}")  # fmt: skip
        for day in report.changed:
            print(f"changed: {day}")
        return 0

    return admin.run_admin(get_settings(), "rollups rebuild", work, args.data_dir)


def cmd_schema_export(args: argparse.Namespace) -> int:
    from service.http.app import export_sdl

    sys.stdout.write(export_sdl())
    return 0


DATA_DIR_HELP = (
    "without CX_MONGO_URI: the data directory of a running `cxgraph dev` (`make run`) whose "
    "embedded database to use (default: CX_DATA_DIR)"
)


def add_development_commands(commands: Any) -> None:
    """`cxgraph dev` and `cxgraph demo load` come from devtools/, which a source checkout has
    and the image does not: there they answer that they are not part of it."""
    try:
        dev = importlib.import_module("devtools.commands")
    except ModuleNotFoundError:
        for name in ("dev", "demo"):
            missing = commands.add_parser(name, help="development only (not in this image)")
            missing.add_argument("rest", nargs=argparse.REMAINDER)
            missing.set_defaults(func=_not_here)
        return
    dev.add_commands(commands)


def _not_here(args: argparse.Namespace) -> int:
    print(f"cxgraph {args.command}: a development command; it is not part of this install "
          "(run it from a source checkout: `make run`)", file=sys.stderr)  # fmt: skip
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve GraphQL (reads CX_MONGO_URI, CX_MONGO_DB)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    add_development_commands(commands)

    rollups = commands.add_parser("rollups", help="the metric rollups")
    rollup_commands = rollups.add_subparsers(dest="rollups_command", required=True)
    rebuild = rollup_commands.add_parser(
        "rebuild", help="recompute rollups from raw documents (--check: only report drift)"
    )
    rebuild.add_argument(
        "--check",
        action="store_true",
        help="compare stored rollups with raw documents; exit 1 on drift",
    )
    rebuild.add_argument("--tenant")
    rebuild.add_argument("--data-dir", help=DATA_DIR_HELP)
    rebuild.set_defaults(func=cmd_rollups_rebuild)

    keys.add_commands(commands)
    tenants.add_commands(commands)
    comments.add_commands(commands)
    queries.add_commands(commands)

    schema = commands.add_parser("schema", help="the GraphQL schema")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print the schema as SDL")
    export.set_defaults(func=cmd_schema_export)
    return parser


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # access_log.DEFAULT_FORMAT


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
