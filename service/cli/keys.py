"""``cxgraph keys create|list|revoke`` and the development key ``make run`` prints."""

from __future__ import annotations

import argparse
import sys

from service.auth import api_keys
from service.cli import admin
from service.domain.principal import Scope
from service.settings import get_settings
from service.store import api_keys as stored_keys
from service.store.client import Mongo


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="API keys for partner CRMs and back-ends")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="make a key; it is printed once (last line), only its hash is stored"
    )
    create.add_argument("--tenant", required=True)
    create.add_argument("--scope", action="append", required=True,
                        choices=[s.value for s in Scope], help="repeat for several")  # fmt: skip
    create.add_argument("--name", default="", help="who or what the key is for")
    create.set_defaults(func=cmd_create)
    listing = key_commands.add_parser("list", help="keys without their secrets")
    listing.add_argument("--tenant")
    listing.set_defaults(func=cmd_list)
    revoke = key_commands.add_parser("revoke", help="stop a key, on every replica within seconds")
    revoke.add_argument("id")
    revoke.set_defaults(func=cmd_revoke)


def cmd_create(args: argparse.Namespace) -> int:
    settings = get_settings()

    async def work(mongo: Mongo) -> int:
        try:
            key, stored = await api_keys.create(
                mongo, args.tenant, args.scope, args.name, settings.api_key_pepper
            )
        except ValueError as exc:
            print(f"cxgraph keys create: {exc}", file=sys.stderr)
            return 2
        print(f"created key {stored.id} for tenant {stored.tenant!r} with "
              f"{' '.join(stored.scopes)}; it is shown only now:")  # fmt: skip
        print(key)
        return 0

    return admin.run_admin(settings, "keys", work)


def cmd_list(args: argparse.Namespace) -> int:
    settings = get_settings()

    async def work(mongo: Mongo) -> int:
        print("id\ttenant\tscopes\tname\tcreated\trevoked")
        for k in await stored_keys.list_all(mongo, args.tenant):
            revoked = k.revoked_at.isoformat() if k.revoked_at else "-"
            print(f"{k.id}\t{k.tenant}\t{','.join(k.scopes)}\t{k.name}\t"
                  f"{k.created_at.isoformat()}\t{revoked}")  # fmt: skip
        return 0

    return admin.run_admin(settings, "keys", work)


def cmd_revoke(args: argparse.Namespace) -> int:
    settings = get_settings()

    async def work(mongo: Mongo) -> int:
        if await stored_keys.revoke(mongo, args.id):
            print(f"revoked key {args.id}; replicas stop accepting it within "
                  f"{settings.auth_cache_s:g} s")  # fmt: skip
            return 0
        print(f"cxgraph keys revoke: no active key {args.id!r}", file=sys.stderr)
        return 1

    return admin.run_admin(settings, "keys", work)
