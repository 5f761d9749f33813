"""`cxgraph dev` and `cxgraph demo load`: development commands, kept out of the image."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from devtools import dev_database
from service.cli import admin
from service.cli.main import DATA_DIR_HELP, serve
from service.settings import Settings, get_settings


def add_commands(commands: Any) -> None:
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


def cmd_dev(args: argparse.Namespace) -> int:
    """Development: the embedded database unless CX_MONGO_URI is set, demo data once, serve."""
    from devtools.embedded import EmbeddedMongo

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
        serve(settings, args.host or settings.host, args.port or settings.port)
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
    from devtools.demo import is_empty, load_demo
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
    from devtools.dev_key import dev_key_path, ensure_dev_key

    key = await ensure_dev_key(mongo, settings)
    print(f"development API key for tenant {settings.default_tenant!r} (every scope), also in "
          f"{dev_key_path(settings)}:\n  {key}\n  curl -H 'Authorization: Bearer {key}' ...",
          flush=True)  # fmt: skip


def cmd_demo_load(args: argparse.Namespace) -> int:
    from devtools.demo import load_demo

    async def work(mongo: Any) -> int:
        settings = get_settings()
        try:
            await load_demo(mongo, settings, args.tenant or settings.default_tenant,
                            seed=args.seed, end=args.end)  # fmt: skip
        except (ValueError, RuntimeError) as exc:
            print(f"cxgraph demo load: {exc}", file=sys.stderr)
            return 2
        return 0

    return admin.run_admin(get_settings(), "demo load", work, args.data_dir)
