"""``pneumoscan users create|list|disable|enable|reset-password|unlock|token``: accounts from the shell.

Works on the database the server uses (``DATABASE_URL``, else ``PNEUMOSCAN_DATA_DIR``/pneumoscan.db),
migrating it first if needed. Passwords and tokens are printed once and never stored in clear.
"""

from __future__ import annotations

import argparse
import sys

from pneumoscan.api.accounts import ROLES, audit_cli


def _database():
    import logging

    from pneumoscan.api.settings import Settings
    from pneumoscan.api.storage import Database

    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.upgrade(lock_dir=settings.data_dir)
    return db


def _user_or_fail(session, username: str):
    from pneumoscan.api.accounts import find_user

    user = find_user(session, username)
    if user is None:
        raise ValueError(f"There is no user {username!r}; see `pneumoscan users list`.")
    return user


def _read_password(args: argparse.Namespace) -> str | None:
    if not args.password_stdin:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise ValueError("--password-stdin was given but stdin held no password.")
    return line


def cmd_create(args: argparse.Namespace) -> int:
    from pneumoscan.api.accounts import create_user

    db = _database()
    with db.session() as session:
        user, generated = create_user(session, args.username, args.role, _read_password(args))
        audit_cli(session, "create", user, f"role {user.role}")
    print(f"created {user.role} {user.username!r} (id {user.id})")
    if generated:
        print(f"password (shown once): {generated}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from pneumoscan.api.orm import User, as_utc, utcnow

    db = _database()
    with db.session() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        now = utcnow()
        print(f"{'id':>4}  {'username':<24} {'role':<10} status")
        for u in users:
            status = "disabled" if u.disabled else "active"
            if u.locked_until is not None and as_utc(u.locked_until) > now:
                status += f", locked until {as_utc(u.locked_until):%Y-%m-%d %H:%M} UTC"
            print(f"{u.id:>4}  {u.username:<24} {u.role:<10} {status}")
    return 0


def cmd_disable(args: argparse.Namespace, disabled: bool = True) -> int:
    from pneumoscan.api.accounts import set_disabled

    db = _database()
    with db.session() as session:
        user = _user_or_fail(session, args.username)
        set_disabled(session, user, disabled)
        audit_cli(session, "disable" if disabled else "enable", user)
    print(f"{args.username}: {'disabled (signed out everywhere)' if disabled else 'enabled'}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from pneumoscan.api.accounts import set_password

    db = _database()
    with db.session() as session:
        user = _user_or_fail(session, args.username)
        generated = set_password(session, user, _read_password(args))
        audit_cli(session, "reset_password", user)
    print(f"{args.username}: password changed; every session of this user has ended")
    if generated:
        print(f"new password (shown once): {generated}")
    return 0


def cmd_unlock(args: argparse.Namespace) -> int:
    from pneumoscan.api.accounts import unlock

    db = _database()
    with db.session() as session:
        user = _user_or_fail(session, args.username)
        unlock(session, user)
        audit_cli(session, "unlock", user)
    print(f"{args.username}: unlocked")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from pneumoscan.api.accounts import create_token

    db = _database()
    with db.session() as session:
        user = _user_or_fail(session, args.username)
        token, raw = create_token(session, user, args.name)
        audit_cli(session, "create_token", user, f"token {token.id}")
    print(raw)
    print(f"API token {token.id} for {args.username} (shown once; send it as 'Authorization: Bearer <token>')",
          file=sys.stderr)
    return 0


def add_parser(sub) -> None:
    """Attach ``users ...`` to the main CLI's subparsers."""
    users = sub.add_parser("users", help="accounts: create, list, disable, reset passwords, API tokens")
    cmds = users.add_subparsers(dest="users_command", required=True)

    create = cmds.add_parser("create", help="add a user; the password is read from stdin or generated")
    create.add_argument("username")
    create.add_argument("--role", choices=ROLES, default="clinician")
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(func=cmd_create)

    cmds.add_parser("list", help="every user with role and status").set_defaults(func=cmd_list)

    for name, enable in (("disable", False), ("enable", True)):
        p = cmds.add_parser(name, help=f"{name} an account")
        p.add_argument("username")
        p.set_defaults(func=(lambda a, d=not enable: cmd_disable(a, d)))

    reset = cmds.add_parser("reset-password", help="set a new password (stdin or generated); ends sessions")
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(func=cmd_reset)

    unlock = cmds.add_parser("unlock", help="forget a user's failed sign-ins (no slow-down left)")
    unlock.add_argument("username")
    unlock.set_defaults(func=cmd_unlock)

    token = cmds.add_parser("token", help="create an API token for a user and print it once")
    token.add_argument("username")
    token.add_argument("--name", default="command line", help="what the token is for")
    token.set_defaults(func=cmd_token)
