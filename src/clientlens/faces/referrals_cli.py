"""``clientlens referrals ...``: the member-get-member programme from the command line.

Thin commands over ``clientlens.services.programmes.referrals`` and the workspace glue in
``services.workspace.jobs``; every rejection comes back with its reason code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.options import Workspace, parse_date
from clientlens.model.errors import ClientlensError

out = Console()
On = Annotated[str | None, typer.Option("--on", help="Date, YYYY-MM-DD; default today.")]

referrals_app = typer.Typer(
    name="referrals",
    help="Member-get-member: programmes, invitation codes, registrations, qualifying "
         "facts, points and the funnel.\n\n"
         "Example: clientlens referrals publish -w my-bank, then clientlens referrals code "
         "C00000042 --programme friends -w my-bank",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")


def _day(value: str | None, option: str = "--on") -> dt.date:
    return parse_date(value, option, or_today=True)  # type: ignore[return-value]


def _db(workspace: Path):  # noqa: ANN202 - an AppDB
    from clientlens.services.workspace.folder import Workspace as Ws

    return Ws(workspace).app_db()


@referrals_app.command()
def publish(files: Annotated[list[Path] | None, typer.Argument(
        help="Programme files; default: the workspace's definitions/referrals/*.yaml.")]
            = None,
            workspace: Workspace = Path(".")) -> None:
    """Publish referral programmes as versions; a changed file becomes a new version and
    published versions never change.

    Example: `clientlens referrals publish -w my-bank`
    """
    from clientlens.services.workspace import jobs

    for p in jobs.publish_referral_programmes(workspace, files or ()):
        out.print(f"{p.programme_id} version {p.version}"
                  + (" (new)" if p.created else " (unchanged)"))


@referrals_app.command()
def code(referrer: Annotated[str, typer.Argument(help="Customer who refers.")],
         programme: Annotated[str, typer.Option(help="Programme id.")] = "friends",
         on: On = None, workspace: Workspace = Path(".")) -> None:
    """Issue an invitation code to an eligible customer (segment, phase and grades from
    the latest run).

    Example: `clientlens referrals code C00000042 --programme friends -w my-bank`
    """
    from clientlens.services.programmes.referrals import issue_code
    from clientlens.services.workspace import jobs

    profile = jobs.referrer_profile(workspace, referrer)
    with _db(workspace) as db:
        inv = issue_code(db, programme, referrer, profile, _day(on))
    out.print(f"Code [bold]{inv.code}[/] for {escape(inv.referrer_id)} "
              f"({inv.programme_id} v{inv.programme_version}), valid until {inv.expires_on}.")


@referrals_app.command()
def register(invitation: Annotated[str, typer.Argument(metavar="CODE", help="The code.")],
             new_customer: Annotated[str, typer.Argument(help="The new customer's id.")],
             document: Annotated[str | None, typer.Option(help="Identity document.")] = None,
             phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
             address: Annotated[str | None, typer.Option(help="Home address.")] = None,
             on: On = None, workspace: Workspace = Path(".")) -> None:
    """Register a new customer who came with a code; fraud checks may reject it, with a
    reason code.

    Example: `clientlens referrals register K7PX2QHM4A C00100001 --phone "+7 900 000-00-00"`
    """
    from clientlens.services.programmes.referral_lookups import register_checked
    from clientlens.services.workspace.folder import Workspace as Ws

    identity = {"document": document, "phone": phone, "address": address}
    with _db(workspace) as db, Ws(workspace).engine(read_only=True) as engine:
        r = register_checked(db, engine, invitation, new_customer, identity, _day(on))
    if r.rejected:
        raise ClientlensError(f"registration {r.registration_id} rejected: {r.reason_code}")
    out.print(f"Registered {escape(r.new_customer_id)} (registration {r.registration_id}, "
              f"referred by {escape(str(r.referrer_id))}).")


@referrals_app.command()
def qualify(new_customer: Annotated[str, typer.Argument(help="The new customer's id.")],
            kind: Annotated[str, typer.Option(
                help="product_opened, min_balance or salary_received.")],
            product_type: Annotated[str | None, typer.Option(help="For product_opened.")]
            = None,
            amount: Annotated[str | None, typer.Option(help="For min_balance / salary.")]
            = None,
            held_days: Annotated[int | None, typer.Option(help="For min_balance.")] = None,
            on: On = None, workspace: Workspace = Path(".")) -> None:
    """Record a qualifying fact for a referred customer; when the programme's event is met
    both sides are rewarded, once.

    Example: `clientlens referrals qualify C00100001 --kind product_opened --product-type card`
    """
    from clientlens.services.programmes.referrals import qualify as qual

    fact = {"kind": kind, "on": _day(on), "product_type": product_type, "amount": amount,
            "held_days": held_days}
    with _db(workspace) as db:
        q = qual(db, new_customer, {k: v for k, v in fact.items() if v is not None},
                 dt.date.today())
    if not q.accepted:
        raise ClientlensError(f"the fact did not count: {q.reason_code}")
    out.print(f"Registration {q.registration_id}: {q.status}"
              + (" — rewards posted" if q.newly_rewarded else "")
              + (f" ({q.reason_code})" if q.reason_code else ""))


@referrals_app.command()
def funnel(programme: Annotated[str, typer.Argument(help="Programme id.")] = "friends",
           point_value: Annotated[str, typer.Option(help="One point in money.")] = "1",
           workspace: Workspace = Path(".")) -> None:
    """The programme's funnel: invited, registered, qualified, rewarded, rejected by
    reason, and the cost per acquired customer.

    Example: `clientlens referrals funnel friends --point-value 0.5 -w my-bank`
    """
    from clientlens.services.programmes.referrals import funnel as fun

    with _db(workspace) as db:
        f = fun(db, programme, point_value)
    t = Table(title=f"Funnel of {programme}")
    t.add_column("stage")
    t.add_column("count", justify="right")
    for name in ("invited", "registered", "qualified", "rewarded", "capped"):
        t.add_row(name, f"{getattr(f, name):,}")
    for reason, n in sorted(f.rejected.items()):
        t.add_row(f"rejected: {reason}", f"{n:,}")
    out.print(t)
    per = f"{f.cost_per_acquired:,.2f}" if f.cost_per_acquired is not None else "—"
    out.print(f"Points paid {f.points_paid:,}; cost {f.cost:,.2f}; per acquired customer {per}.")


@referrals_app.command()
def balance(customer: Annotated[str, typer.Argument(help="Customer id.")],
            workspace: Workspace = Path(".")) -> None:
    """A customer's points.

    Example: `clientlens referrals balance C00000042 -w my-bank`
    """
    from clientlens.services.programmes.referrals import balance as bal

    with _db(workspace) as db:
        out.print(f"{escape(customer)}: {bal(db, customer):,} points")


@referrals_app.command()
def redeem(customer: Annotated[str, typer.Argument(help="Customer id.")],
           points: Annotated[int, typer.Argument(help="Points to spend.")],
           key: Annotated[str, typer.Option(help="Idempotency key: the same key spends "
                                                 "once.")],
           workspace: Workspace = Path(".")) -> None:
    """Spend points; never below zero; the same --key spends once.

    Example: `clientlens referrals redeem C00000042 500 --key order-1187 -w my-bank`
    """
    from clientlens.services.programmes.referrals import redeem_points

    with _db(workspace) as db:
        r = redeem_points(db, customer, points, key)
    again = " (this key was used before: nothing spent again)" if r.replayed else ""
    out.print(f"Redeemed {r.points:,} points for {escape(r.customer_id)}; balance "
              f"{r.balance_after:,}{again}.")
