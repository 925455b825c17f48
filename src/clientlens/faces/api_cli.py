"""``clientlens serve`` and ``clientlens token ...``: the HTTP API's commands.

Managing tokens needs neither FastAPI nor uvicorn: the store is
``platform/tokens.py`` (one row per token in the application database, SHA-256 hashes
only), opened for a workspace by ``services/workspace/api_tokens.py``. ``serve``
imports the app (``faces/http/app.py``) only when it runs; nothing imports this
module but the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import Workspace as WorkspaceOpt
from clientlens.model.errors import ClientlensError
from clientlens.platform.access import ROLES
from clientlens.services.workspace.api_tokens import add_token, revoke_tokens, token_records

out = Console()
err = Console(stderr=True)


@user_errors
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

        from clientlens.faces.http.app import create_app
        from clientlens.platform.http_guard import log_config
    except ImportError as e:
        raise ClientlensError(f"the HTTP API needs '{e.name}': pip install "
                              "'clientlens[api]'") from None
    from clientlens.platform import service_file

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}"
    # commands on this machine find the service here and hand it their work
    announced = service_file.announce(workspace, url)
    try:
        app = create_app(workspace, local_token=announced.token)
        if not app.state.tokens_known():
            err.print("[yellow]warning:[/] no API tokens yet; API requests will get 401 "
                      f"(clientlens token add USER --role analyst -w {workspace}).")
        err.print(f"Console: {url}/ (users: clientlens user add NAME --role ROLE -w "
                  f"{workspace}); API docs: {url}/docs")
        uvicorn.run(app, host=host, port=port, log_config=log_config())
    finally:
        service_file.withdraw(workspace)


token_app = typer.Typer(
    name="token",
    help="API tokens: each holder has one role (viewer, analyst, marketing, "
         "security_officer, admin). Only SHA-256 hashes are stored.\n\n"
         "Quick start: clientlens token add ivanova --role analyst -w my-bank",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)


@token_app.command("add")
@user_errors
def token_add(user: Annotated[str, typer.Argument(help="Who holds the token.")],
              role: Annotated[str, typer.Option(help="One of: " + ", ".join(ROLES))],
              workspace: WorkspaceOpt = Path(".")) -> None:
    """Create a token and print it once; the application database keeps only its hash.

    Example: `clientlens token add ivanova --role analyst -w my-bank`
    """
    raw = add_token(workspace, user, role)
    err.print(f"Token for [bold]{escape(user)}[/] ({role}); shown once, store it now:")
    print(raw)


@token_app.command("list")
@user_errors
def token_list(workspace: WorkspaceOpt = Path(".")) -> None:
    """List token holders, roles and hash prefixes (never the tokens).

    Example: `clientlens token list -w my-bank`
    """
    t = Table(title="API tokens (application database)")
    for col in ("user", "role", "hash", "created"):
        t.add_column(col)
    for r in token_records(workspace):
        t.add_row(escape(r.user), r.role, r.token_hash[:12] + "…",
                  r.created_at.isoformat(timespec="seconds") if r.created_at else "")
    out.print(t)


@token_app.command("revoke")
@user_errors
def token_revoke(who: Annotated[str, typer.Argument(help="User name, or a hash prefix "
                                                         "(8+ characters) from `token list`.")],
                 workspace: WorkspaceOpt = Path(".")) -> None:
    """Revoke a user's tokens (or one token by hash prefix).

    Example: `clientlens token revoke ivanova -w my-bank`
    """
    n = revoke_tokens(workspace, who)
    out.print(f"{n} token{'s' if n != 1 else ''} revoked")
