"""The ``cxgraph`` command: serve, dev, demo load, schema export."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

from service import dev_database, keys_cli, tenants_cli
from service.settings import Settings, get_settings

log = logging.getLogger("cxgraph")


def _serve(settings: Settings, host: str, port: int) -> None:
    import functools

    import uvicorn

    from service.app import create_app
    from service.shutdown import GracefulServer, Lifecycle

    lifecycle = Lifecycle()
    config = uvicorn.Config(
        functools.partial(create_app, settings, lifecycle=lifecycle),
        factory=True,
        host=host,
        port=port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
        server_header=False,
    )
    GracefulServer(config, lifecycle, settings.shutdown_delay_s).run()


def cmd_serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    if not settings.mongo_uri:
        print("CX_MONGO_URI is not set. `make run` (or `cxgraph dev`) starts an embedded "
              "database for development.", file=sys.stderr)  # fmt: skip
        return 2
    _serve(settings, args.host or settings.host, args.port or settings.port)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """Development: the embedded database unless CX_MONGO_URI is set, demo data once, serve."""
    from service.embedded import EmbeddedMongo

    settings = get_settings()
    embedded: EmbeddedMongo | None = None
    if not settings.mongo_uri:
        embedded = EmbeddedMongo(settings.data_dir)
        print(f"starting the embedded database (data in {settings.data_dir}) ...", flush=True)
        uri = embedded.start()
        os.environ["CX_MONGO_URI"] = uri
        settings = settings.model_copy(update={"mongo_uri": uri})
        where = dev_database.record(settings.data_dir, uri)
        print(f"embedded database at {uri} (recorded in {where} for cxgraph's admin "
              "commands)", flush=True)  # fmt: skip
    try:
        asyncio.run(_prepare(settings, demo=not args.no_demo))
        print(f"GraphQL on http://{args.host or settings.host}:{args.port or settings.port}"
              "/graphql  (Ctrl-C to stop)", flush=True)  # fmt: skip
        _serve(settings, args.host or settings.host, args.port or settings.port)
    except KeyboardInterrupt:
        pass
    finally:
        if embedded is not None:
            print("stopping the embedded database ...", flush=True)
            if settings.mongo_uri:
                dev_database.forget(settings.data_dir, settings.mongo_uri)
            embedded.stop()
    return 0


async def _prepare(settings: Settings, demo: bool) -> None:
    """Indexes, the demo data set when the database is empty, and the development key."""
    from service.demo import is_empty, load_demo
    from service.store.client import connect
    from service.store.indexes import ensure_indexes

    mongo = connect(settings)
    try:
        await ensure_indexes(mongo)
        if demo and await is_empty(mongo, settings.default_tenant):
            await load_demo(mongo, settings, settings.default_tenant)
        elif demo:
            print("database has data: demo set not loaded", flush=True)
        await _print_dev_key(mongo, settings)
    finally:
        await mongo.close()


async def _print_dev_key(mongo: Any, settings: Settings) -> None:
    from service.keys_cli import dev_key_path, ensure_dev_key

    key = await ensure_dev_key(mongo, settings)
    print(f"development API key for tenant {settings.default_tenant!r} (every scope), also in "
          f"{dev_key_path(settings)}:\n  {key}\n  curl -H 'Authorization: Bearer {key}' ...",
          flush=True)  # fmt: skip


def cmd_demo_load(args: argparse.Namespace) -> int:
    from service.demo import load_demo

    async def work(mongo: Any) -> int:
        settings = get_settings()
        try:
            await load_demo(mongo, settings, args.tenant or settings.default_tenant,
                            seed=args.seed, end=args.end)  # fmt: skip
        except (ValueError, RuntimeError) as exc:
            print(f"cxgraph demo load: {exc}", file=sys.stderr)
            return 2
        return 0

    return dev_database.run_admin(get_settings(), "demo load", work, args.data_dir)


def cmd_rollups_rebuild(args: argparse.Namespace) -> int:
    from service.metrics import rebuild
    from service.tenant_settings import TenantDirectory

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

    return dev_database.run_admin(get_settings(), "rollups rebuild", work, args.data_dir)


def cmd_schema_export(args: argparse.Namespace) -> int:
    from service.app import export_sdl

    sys.stdout.write(export_sdl())
    return 0


DATA_DIR_HELP = (
    "without CX_MONGO_URI: the data directory of a running `cxgraph dev` (`make run`) whose "
    "embedded database to use (default: CX_DATA_DIR)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve GraphQL (reads CX_MONGO_URI, CX_MONGO_DB)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    dev = commands.add_parser(
        "dev", help="embedded database when CX_MONGO_URI is unset, demo data once, serve"
    )
    dev.add_argument("--host")
    dev.add_argument("--port", type=int)
    dev.add_argument("--no-demo", action="store_true", help="do not load the demo data set")
    dev.set_defaults(func=cmd_dev)

    demo = commands.add_parser("demo", help="the demo data set")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    load = demo_commands.add_parser("load", help="load the deterministic demo data set")
    load.add_argument("--tenant")
    load.add_argument("--seed", type=int, default=7)
    load.add_argument("--end", help="last day of the data (YYYY-MM-DD); default: today (UTC)")
    load.add_argument("--data-dir", help=DATA_DIR_HELP)
    load.set_defaults(func=cmd_demo_load)

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

    keys_cli.add_commands(commands)
    tenants_cli.add_commands(commands)

    schema = commands.add_parser("schema", help="the GraphQL schema")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    export = schema_commands.add_parser("export", help="print the schema as SDL")
    export.set_defaults(func=cmd_schema_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
