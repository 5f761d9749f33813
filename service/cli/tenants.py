"""``cxgraph tenants create|show|set``: a tenant's own settings, over the environment's."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from service.cli.admin import run_admin
from service.settings import get_settings
from service.store import tenants
from service.store.client import Mongo
from service.tenancy.directory import TenantDirectory, checked


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("tenants", help="tenants and their own settings")
    sub = parser.add_subparsers(dest="tenants_command", required=True)
    for name, helptext, func in (
        ("create", "a tenant, with settings (the environment's for those not given)", cmd_create),
        ("set", "change a tenant's settings (a timezone change re-keys its rollups itself)",
         cmd_set),
    ):  # fmt: skip
        command = sub.add_parser(name, help=helptext)
        command.add_argument("tenant")
        command.add_argument("--timezone", help="IANA timezone, e.g. Asia/Tehran")
        command.add_argument("--min-sample", type=int, help="below this n: lowSample")
        command.add_argument("--max-window-days", type=int, help="the longest metric window")
        command.add_argument("--calendar", help="trend months: GREGORIAN, PERSIAN or "
                             "ISLAMIC_UMALQURA")  # fmt: skip
        command.add_argument("--week-start", help="trend weeks start: MONDAY, SATURDAY or SUNDAY")
        command.set_defaults(func=func)
    show = sub.add_parser("show", help="a tenant's settings as requests see them")
    show.add_argument("tenant")
    show.set_defaults(func=cmd_show)


def _values(args: argparse.Namespace) -> dict[str, Any]:
    return checked({"timezone": args.timezone, "minSample": args.min_sample,
                    "maxWindowDays": args.max_window_days, "calendar": args.calendar,
                    "weekStart": args.week_start})  # fmt: skip


def cmd_create(args: argparse.Namespace) -> int:
    return _write(args, "create")


def cmd_set(args: argparse.Namespace) -> int:
    return _write(args, "set")


def _write(args: argparse.Namespace, verb: str) -> int:
    """Settings are checked before anything is read or written."""
    try:
        values = _values(args)
    except ValueError as exc:
        print(f"cxgraph tenants {verb}: {exc}", file=sys.stderr)
        return 2

    async def work(mongo: Mongo) -> int:
        if verb == "set":
            await tenants.set_settings(mongo, args.tenant, values)
        elif not await tenants.create(mongo, args.tenant, values):
            print(f"cxgraph tenants create: tenant {args.tenant!r} exists; use `tenants set`",
                  file=sys.stderr)  # fmt: skip
            return 1
        return await _show(mongo, args.tenant)

    return run_admin(get_settings(), "tenants", work)


def cmd_show(args: argparse.Namespace) -> int:
    return run_admin(get_settings(), "tenants", lambda mongo: _show(mongo, args.tenant))


async def _show(mongo: Mongo, tenant: str) -> int:
    effective = await TenantDirectory(mongo, get_settings()).get(tenant)
    stored = await tenants.stored_settings(mongo, tenant)
    print(json.dumps({"tenant": tenant, "timezone": effective.timezone,
                      "minSample": effective.min_sample,
                      "maxWindowDays": effective.max_window_days,
                      "calendar": effective.calendar.value,
                      "weekStart": effective.week_start.value,
                      "fromTenantDocument": sorted(stored)}, indent=2))  # fmt: skip
    return 0
