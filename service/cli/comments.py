"""`cxgraph comments reindex`: store the search words of comments written without them."""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.admin import run_admin
from service.settings import get_settings


def cmd_reindex(args: argparse.Namespace) -> int:
    from service.store.comment_terms import backfill

    async def work(mongo: Any) -> int:
        filled = await backfill(mongo)
        print(f"comments: stored the words of {sum(filled.values())} comments "
              f"in {len(filled)} tenants")  # fmt: skip
        for tenant, count in sorted(filled.items()):
            print(f"{tenant}: {count}")
        return 0

    return run_admin(get_settings(), "comments reindex", work, args.data_dir)


def add_commands(commands: Any) -> None:
    comments = commands.add_parser("comments", help="survey comments")
    comment_commands = comments.add_subparsers(dest="comments_command", required=True)
    reindex = comment_commands.add_parser(
        "reindex", help="store the search words of comments that have none (after an upgrade)"
    )
    reindex.add_argument("--data-dir", help="as for `rollups rebuild`")
    reindex.set_defaults(func=cmd_reindex)
