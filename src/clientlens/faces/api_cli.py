"""``clientlens serve`` and ``clientlens token ...``: the HTTP API's commands.

The token store lives here (not in ``api.py``) so managing tokens needs neither
FastAPI nor uvicorn. Tokens are random strings shown once; the workspace keeps only
their SHA-256 hashes in ``tokens.yaml``::

    tokens:
      9f86d081...: {user: ivanova, role: analyst, created: 2026-11-02T10:00:00+00:00}
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.options import Workspace as WorkspaceOpt
from clientlens.model.errors import ClientlensError, NotFoundError

TOKENS_FILE = "tokens.yaml"
ROLES = ("viewer", "analyst", "marketing", "security_officer", "admin")

out = Console()
err = Console(stderr=True)


# -- the token store -------------------------------------------------------------------
def token_hash(token: str) -> str:
    """The SHA-256 hex digest stored for a token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenHolder:
    user: str
    role: str


def tokens_path(workspace: str | Path) -> Path:
    return Path(workspace) / TOKENS_FILE


def load_tokens(workspace: str | Path) -> dict[str, dict[str, Any]]:
    """Hash -> {user, role, created} from the workspace's tokens.yaml (empty when absent)."""
    path = tokens_path(workspace)
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ClientlensError(f"{path}: not valid YAML: {e}") from None
    tokens = data.get("tokens") or {}
    if not isinstance(tokens, dict):
        raise ClientlensError(f"{path}: 'tokens' must be a mapping of hash -> user and role")
    for digest, holder in tokens.items():
        if not isinstance(holder, dict) or holder.get("role") not in ROLES:
            raise ClientlensError(f"{path}: token {str(digest)[:12]}...: role must be one of "
                                  f"{', '.join(ROLES)}")
    return {str(k): v for k, v in tokens.items()}


def _save_tokens(workspace: str | Path, tokens: dict[str, dict[str, Any]]) -> None:
    path = tokens_path(workspace)
    tmp = path.with_name(path.name + ".partial")
    text = ("# API tokens: SHA-256 hash -> holder. Raw tokens are never stored; manage with\n"
            "# `clientlens token add|list|revoke`.\n"
            + yaml.safe_dump({"tokens": tokens}, sort_keys=True, allow_unicode=True))
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def add_token(workspace: str | Path, user: str, role: str) -> str:
    """Create a token for ``user`` with ``role``; returns the raw token (shown once)."""
    if role not in ROLES:
        raise ClientlensError(f"unknown role '{role}': use one of {', '.join(ROLES)}")
    if not user.strip():
        raise ClientlensError("the user name must not be empty")
    from clientlens.services.workspace import Workspace

    Workspace(workspace)  # a real workspace, or a clear error
    tokens = load_tokens(workspace)
    raw = "cl_" + secrets.token_urlsafe(32)
    tokens[token_hash(raw)] = {"user": user, "role": role,
                               "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    _save_tokens(workspace, tokens)
    return raw


def revoke_tokens(workspace: str | Path, who: str) -> int:
    """Remove every token of user ``who`` (or the one whose hash starts with ``who``)."""
    tokens = load_tokens(workspace)
    gone = [h for h, v in tokens.items()
            if v.get("user") == who or (len(who) >= 8 and h.startswith(who))]
    if not gone:
        raise NotFoundError(f"no token for user or hash '{who}'")
    for h in gone:
        del tokens[h]
    _save_tokens(workspace, tokens)
    return len(gone)


# -- commands --------------------------------------------------------------------------
def _user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ClientlensError as e:
            err.print(f"[red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            sys.exit(1)

    return run




@_user_errors
def serve(workspace: WorkspaceOpt = Path("."),
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]
          = 8000) -> None:
    """Serve the workspace over HTTP (FastAPI): profiles, segments, runs, re-evaluation.

    Clients send `Authorization: Bearer <token>`; create tokens with `clientlens token add`.
    The OpenAPI spec is at /openapi.json, interactive docs at /docs.

    Example: `clientlens serve -w my-bank --port 8000`
    """
    try:
        import uvicorn

        from clientlens.faces.api import create_app, log_config
    except ImportError as e:
        raise ClientlensError(f"the HTTP API needs '{e.name}': pip install "
                              "'clientlens[api]'") from None
    app = create_app(workspace)
    if not app.state.tokens_known():
        err.print("[yellow]warning:[/] no tokens yet; every request will get 401. Create one: "
                  f"clientlens token add USER --role analyst -w {workspace}")
    uvicorn.run(app, host=host, port=port, log_config=log_config())


token_app = typer.Typer(
    name="token",
    help="API tokens: each holder has one role (viewer, analyst, marketing, "
         "security_officer, admin). Only SHA-256 hashes are stored.\n\n"
         "Quick start: clientlens token add ivanova --role analyst -w my-bank",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)


@token_app.command("add")
@_user_errors
def token_add(user: Annotated[str, typer.Argument(help="Who holds the token.")],
              role: Annotated[str, typer.Option(help="One of: " + ", ".join(ROLES))],
              workspace: WorkspaceOpt = Path(".")) -> None:
    """Create a token and print it once; the workspace keeps only its hash.

    Example: `clientlens token add ivanova --role analyst -w my-bank`
    """
    raw = add_token(workspace, user, role)
    err.print(f"Token for [bold]{escape(user)}[/] ({role}); shown once, store it now:")
    print(raw)


@token_app.command("list")
@_user_errors
def token_list(workspace: WorkspaceOpt = Path(".")) -> None:
    """List token holders, roles and hash prefixes (never the tokens).

    Example: `clientlens token list -w my-bank`
    """
    t = Table(title=f"API tokens in {tokens_path(workspace)}")
    for col in ("user", "role", "hash", "created"):
        t.add_column(col)
    for digest, v in sorted(load_tokens(workspace).items(), key=lambda kv: kv[1].get("user", "")):
        t.add_row(escape(str(v.get("user"))), v.get("role"), digest[:12] + "…",
                  str(v.get("created", "")))
    out.print(t)


@token_app.command("revoke")
@_user_errors
def token_revoke(who: Annotated[str, typer.Argument(help="User name, or a hash prefix "
                                                         "(8+ characters) from `token list`.")],
                 workspace: WorkspaceOpt = Path(".")) -> None:
    """Revoke a user's tokens (or one token by hash prefix).

    Example: `clientlens token revoke ivanova -w my-bank`
    """
    n = revoke_tokens(workspace, who)
    out.print(f"{n} token{'s' if n != 1 else ''} revoked")
