"""``linli dashboard add-login``: a password login to ``/admin`` for a secretary or admin.

The person is found by phone, name or user id among those holding one of those roles
(a roster import or a role invite made them staff); the password is read from a prompt
or, for scripts, from standard input — never from the command line, where it would sit
in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from sqlalchemy import select

from bot.admin.auth import DASHBOARD_ROLES, DashboardAuth, LoginError
from bot.config import Settings
from bot.storage.db import Database
from bot.storage.models import RoleGrant, User


async def _staff(db: Database, args: argparse.Namespace) -> list[User]:
    query = (
        select(User)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role.in_([r.value for r in DASHBOARD_ROLES]))
        .distinct()
    )
    if args.user_id:
        query = query.where(User.id == args.user_id)
    elif args.phone:
        query = query.where(User.phone == args.phone)
    else:
        query = query.where(User.name == args.name)
    async with db.transaction() as session:
        return list((await session.scalars(query)).all())


def cmd_add_login(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.user_id or args.phone or args.name):
        raise SystemExit("name the person: --name, --phone or --user-id")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise SystemExit("the passwords differ")

    async def run() -> str:
        db = Database(settings.database_url)
        try:
            found = await _staff(db, args)
            if not found:
                raise SystemExit("no secretary or admin matches; check the roster")
            if len(found) > 1:
                ids = ", ".join(f"{u.id} {u.name}" for u in found)
                raise SystemExit(f"several people match ({ids}): use --user-id")
            try:
                await DashboardAuth(db).create_account(args.username, password, found[0].id)
            except LoginError as error:
                raise SystemExit(str(error)) from None
            return found[0].name
        finally:
            await db.dispose()

    name = asyncio.run(run())
    print(f"dashboard login {args.username!r} for {name}: {settings.base_url}/admin")
    return 0


def add_dashboard_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], with_db: Any, settings_of: Any
) -> None:
    dashboard = sub.add_parser("dashboard", help="logins to the /admin dashboard")
    dashboard_sub = dashboard.add_subparsers(dest="dashboard_command", required=True)
    add = with_db(dashboard_sub.add_parser("add-login", help="create or reset a login"))
    add.add_argument("username")
    who = add.add_mutually_exclusive_group()
    who.add_argument("--name")
    who.add_argument("--phone")
    who.add_argument("--user-id", type=int)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=lambda a: cmd_add_login(a, settings_of(a)))
