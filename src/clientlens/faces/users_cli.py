"""``clientlens user ...``: the staff who sign in to the console (``clientlens serve``
serves it at /). Passwords are asked for twice without echo, or read from standard
input with ``--password-stdin`` (for scripts); only Argon2id hashes are stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import Workspace as WorkspaceOpt
from clientlens.platform.access import ROLES
from clientlens.services.workspace import staff_users

out = Console()
err = Console(stderr=True)

user_app = typer.Typer(
    name="user",
    help="Console users: each has one role (" + ", ".join(ROLES) + "), the same roles and "
         "field policy as API tokens.\n\n"
         "Quick start: clientlens user add ivanova --role analyst -w my-bank",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="Read the password from standard input (one line).")]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password (12 characters or more)", hide_input=True,
                        confirmation_prompt=True)


@user_app.command("add")
@user_errors
def user_add(name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
             role: Annotated[str, typer.Option(help="One of: " + ", ".join(ROLES))],
             workspace: WorkspaceOpt = Path("."),
             password_stdin: PasswordStdin = False) -> None:
    """Add a console user with a password (asked for twice, or --password-stdin).

    Example: `clientlens user add ivanova --role marketing -w my-bank`
    """
    staff_users.add_user(workspace, name, role, _password(password_stdin))
    err.print(f"User [bold]{escape(name)}[/] ({role}) added; sign in at "
              "http://127.0.0.1:8000/ once `clientlens serve` runs.")


@user_app.command("passwd")
@user_errors
def user_passwd(name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
                workspace: WorkspaceOpt = Path("."),
                password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's open sessions end.

    Example: `clientlens user passwd ivanova -w my-bank`
    """
    staff_users.set_password(workspace, name, _password(password_stdin))
    err.print(f"Password of {escape(name)} changed; their sessions ended.")


@user_app.command("role")
@user_errors
def user_role(name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
              role: Annotated[str, typer.Argument(help="One of: " + ", ".join(ROLES))],
              workspace: WorkspaceOpt = Path(".")) -> None:
    """Give a user another role; their open sessions end.

    Example: `clientlens user role ivanova analyst -w my-bank`
    """
    staff_users.set_role(workspace, name, role)
    err.print(f"{escape(name)} is now {role}; their sessions ended.")


@user_app.command("disable")
@user_errors
def user_disable(name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
                 workspace: WorkspaceOpt = Path(".")) -> None:
    """Disable a user: they cannot sign in, and their open sessions end at once.

    Example: `clientlens user disable ivanova -w my-bank`
    """
    staff_users.disable_user(workspace, name)
    err.print(f"{escape(name)} disabled; their sessions ended.")


@user_app.command("list")
@user_errors
def user_list(workspace: WorkspaceOpt = Path(".")) -> None:
    """List console users, their roles and whether they are disabled (never hashes).

    Example: `clientlens user list -w my-bank`
    """
    t = Table(title="Console users")
    for col in ("user", "role", "created", "by", "state"):
        t.add_column(col)
    for u in staff_users.list_users(workspace):
        t.add_row(escape(u.name), u.role, f"{u.created_at:%Y-%m-%d %H:%M}",
                  escape(u.created_by), "disabled" if u.disabled else "active")
    out.print(t)
