"""``clientlens consent ...`` and ``clientlens contact ...``: consents, preferences and
pauses; may the bank contact a customer now, and the contact log.

Typer + Rich over ``clientlens.services.contact.commands``; no business logic here.
"""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clientlens.faces.cli_errors import user_errors
from clientlens.faces.options import Workspace as WorkspaceOpt
from clientlens.faces.options import parse_date
from clientlens.model.contact import CONTACT_CHANNELS, CONTACT_PURPOSES, OUTCOMES
from clientlens.model.errors import ClientlensError
from clientlens.services.contact import commands
from clientlens.services.contact.rules import Decision

out = Console()
# Exit code of a check whose contact the policy suppresses (1 is a user error).
SUPPRESSED = 3

CHANNEL_HELP = ", ".join(CONTACT_CHANNELS)
PURPOSE_HELP = ", ".join(CONTACT_PURPOSES)

consent_app = typer.Typer(
    name="consent",
    help="Consents to be contacted, per purpose and channel, with their evidence; the "
         "customer's do-not-contact, preferred channel and language, and pause windows.\n\n"
         "Quick start: clientlens consent record C00000001 --purpose marketing --channel sms "
         "--status withdrawn --source branch --by ivanova",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)
contact_app = typer.Typer(
    name="contact",
    help="May the bank contact a customer on this channel, for this purpose, now? Every "
         "suppression explained; and the contact log the caps count.\n\n"
         "Quick start: clientlens contact check C00000001 --channel sms --purpose marketing",
    no_args_is_help=True, add_completion=False, rich_markup_mode="markdown",
)

Customer = Annotated[str, typer.Argument(metavar="CUSTOMER", help="Customer id.",
                                         show_default=False)]
Channel = Annotated[str, typer.Option(help=f"Access channel: {CHANNEL_HELP}.",
                                      show_default=False)]
Purpose = Annotated[str, typer.Option(help=f"Why: {PURPOSE_HELP}.", show_default=False)]
At = Annotated[str | None, typer.Option(
    "--at", help="When, e.g. 2027-01-07T10:30 (the customer's local time) or "
                 "2027-01-07T10:30+03:00; default now.")]
By = Annotated[str, typer.Option("--by", help="Who records it (employee or system).",
                                 show_default=False)]
Db = Annotated[str | None, typer.Option(
    "--db", envvar="CLIENTLENS_APP_DB", show_default=False,
    help="Application database URL (default: the workspace's).")]
Force = Annotated[bool, typer.Option(
    "--force", help="Accept a customer id not among the imported customers.")]


def _when(value: str | None, option: str = "--at") -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ClientlensError(f"{option} '{value}' is not a time like 2027-01-07T10:30 or "
                              "2027-01-07T10:30+03:00") from None


def _decision(d: Decision) -> None:
    p = d.proposal
    head = (f"{escape(p.customer_id)}: {p.channel}, {p.purpose} at "
            f"{d.local_time:%Y-%m-%d %H:%M} {d.time_zone}")
    if p.campaign:
        head += f", campaign {escape(p.campaign)}"
    if p.offer:
        head += f", offer {escape(p.offer)}"
    if d.allowed:
        out.print(f"[green]allowed[/] {head}", highlight=False)
    else:
        out.print(f"[red]suppressed[/] {head}", highlight=False)
    for s in d.suppressions:
        out.print(f"  - {escape(s.text)}  [dim]({escape(s.rule)})[/]", highlight=False)
    for note in d.notes:
        out.print(f"  [dim]· {escape(note)}[/]", highlight=False)
    out.print(f"  [dim]language {escape(d.language)}; policy {d.policy_version}[/]",
              highlight=False)


# -- contact -------------------------------------------------------------------------------


@contact_app.command()
@user_errors
def check(
    customer: Customer,
    channel: Channel,
    purpose: Purpose,
    at: At = None,
    campaign: Annotated[str | None, typer.Option(help="Campaign the contact is for.")] = None,
    offer: Annotated[str | None, typer.Option(help="Product offered, e.g. DEP-GROW.")] = None,
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
    force: Force = False,
) -> None:
    """Whether a proposed contact is allowed; exit 0 when allowed, 3 when suppressed.

    Examples:

    * `clientlens contact check C00000001 --channel sms --purpose marketing`
    * `clientlens contact check C00000001 --channel outbound_call --purpose cross_sell
      --at 2027-01-07T10:30 --offer DEP-GROW`
    """
    decision = commands.check(workspace, customer, channel, purpose, at=_when(at),
                              campaign=campaign, offer=offer, db_url=db, force=force)
    _decision(decision)
    if not decision.allowed:
        sys.exit(SUPPRESSED)


@contact_app.command("log")
@user_errors
def log_(
    customer: Customer,
    channel: Channel,
    purpose: Purpose,
    by: By,
    at: At = None,
    campaign: Annotated[str | None, typer.Option(help="Campaign the contact was for.")] = None,
    offer: Annotated[str | None, typer.Option(help="Product offered.")] = None,
    outcome: Annotated[str | None, typer.Option(
        help=f"What it led to: {', '.join(OUTCOMES)}.")] = None,
    source_ref: Annotated[str | None, typer.Option(
        help="Its id in the system it came from (logged once however often sent).")] = None,
    enforce: Annotated[bool, typer.Option(
        "--enforce", help="Refuse (exit 3, nothing logged) when the policy suppresses it.")]
    = False,
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
    force: Force = False,
) -> None:
    """Record a contact made or an impression shown, so the caps count it.

    Examples:

    * `clientlens contact log C00000001 --channel sms --purpose marketing --by dialler
      --campaign winter-deposit --source-ref SMS-88121`
    * `clientlens contact log C00000001 --channel outbound_call --purpose cross_sell
      --offer DEP-GROW --outcome declined --by petrova --at 2027-01-12T11:00`
    """
    decision, contact_id, new = commands.log(
        workspace, customer, channel, purpose, recorded_by=by, at=_when(at),
        campaign=campaign, offer=offer, outcome=outcome, source_ref=source_ref,
        enforce=enforce, db_url=db, force=force)
    if contact_id is None:
        _decision(decision)
        out.print("Not logged (--enforce).", highlight=False)
        sys.exit(SUPPRESSED)
    what = "Logged" if new else "Already logged"
    out.print(f"{what} contact {contact_id} for {escape(decision.proposal.customer_id)} "
              f"({channel}, {purpose}) at {decision.local_time:%Y-%m-%d %H:%M} "
              f"{decision.time_zone}.", highlight=False)
    if new and not decision.allowed:
        out.print("[yellow]warning:[/] the policy would have suppressed it: "
                  + "; ".join(escape(s.text) for s in decision.suppressions), highlight=False)


@contact_app.command()
@user_errors
def history(
    customer: Customer,
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Every logged contact of the customer, oldest first.

    Example: `clientlens contact history C00000001`
    """
    rows = commands.history(workspace, customer, db_url=db)
    t = Table(title=f"Contacts of {escape(customer)}")
    for c in ("at (UTC)", "channel", "purpose", "campaign", "offer", "outcome"):
        t.add_column(c)
    for r in rows:
        t.add_row(f"{r.at:%Y-%m-%d %H:%M}", r.channel, r.purpose, escape(r.campaign or ""),
                  escape(r.offer or ""), r.outcome or "")
    out.print(t)


@contact_app.command()
@user_errors
def policy(workspace: WorkspaceOpt = Path(".")) -> None:
    """Check the workspace's contact policy (definitions/contact_policy.yaml) and list it.

    Example: `clientlens contact policy -w my-bank`
    """
    p = commands.check_policy(workspace)
    out.print(f"{escape(p.name)}, version {p.version} ({escape(p.file)})", highlight=False)
    out.print(f"defaults: time zone {p.time_zone}, country {p.country}, language "
              f"{p.language}", highlight=False)
    for purpose in CONTACT_PURPOSES:
        out.print(f"  {purpose}: outbound {p.basis[(purpose, 'outbound')]}, inbound "
                  f"{p.basis[(purpose, 'inbound')]}", highlight=False)
    for cap in p.caps:
        out.print(f"  cap {cap.id}: at most {cap.max} per {cap.period}", highlight=False)


# -- consent -------------------------------------------------------------------------------


@consent_app.command()
@user_errors
def record(
    customer: Customer,
    purpose: Annotated[str, typer.Option(help=f"{PURPOSE_HELP}, or all (with channel any: "
                                              "the do-not-contact).", show_default=False)],
    channel: Annotated[str, typer.Option(help=f"{CHANNEL_HELP}, or any.",
                                         show_default=False)],
    status: Annotated[str, typer.Option(help="granted or withdrawn.", show_default=False)],
    source: Annotated[str, typer.Option(
        help="Evidence: where it was given, e.g. branch, internet, call_centre, form.",
        show_default=False)],
    by: By,
    effective: Annotated[str | None, typer.Option(
        "--effective", help="When it takes effect (default now), e.g. 2026-03-02T11:20.")]
    = None,
    reference: Annotated[str | None, typer.Option(
        help="Evidence: the signed form or call recording, e.g. DOC-8812.")] = None,
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
    force: Force = False,
) -> None:
    """Record a consent given or withdrawn, with its evidence.

    Examples:

    * `clientlens consent record C00000001 --purpose marketing --channel any
      --status withdrawn --source branch --by ivanova`
    * `clientlens consent record C00000001 --purpose all --channel any --status withdrawn
      --source call_centre --by petrova --reference CALL-5512` (do-not-contact)
    """
    r = commands.record_consent(workspace, customer, purpose=purpose, channel=channel,
                                status=status, source=source, recorded_by=by,
                                effective_from=_when(effective, "--effective"),
                                reference=reference, db_url=db, force=force)
    out.print(f"Recorded consent {r.record_id} for {escape(customer.strip())}: {r.purpose} on "
              f"{r.channel} {r.status} from {r.effective_from:%Y-%m-%d %H:%M} UTC via "
              f"{escape(r.source)}.", highlight=False)


@consent_app.command()
@user_errors
def show(
    customer: Customer,
    at: At = None,
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
    force: Force = False,
) -> None:
    """A customer's consents in force per purpose and channel, with the evidence, the
    do-not-contact, preferences and pauses.

    Example: `clientlens consent show C00000001 --at 2026-12-01T12:00`
    """
    v = commands.show_consent(workspace, customer, at=_when(at), db_url=db, force=force)
    if v.do_not_contact is not None:
        r = v.do_not_contact
        out.print(f"[red]do-not-contact[/] since {r.effective_from:%Y-%m-%d} via "
                  f"{escape(r.source)}", highlight=False)
    t = Table(title=f"Consents of {escape(v.customer_id)} ({v.time_zone})")
    t.add_column("channel")
    for purpose in CONTACT_PURPOSES:
        t.add_column(purpose)
    shown = {"granted": "[green]granted[/]", "withdrawn": "[red]withdrawn[/]",
             "opt_out": "[green]allowed[/] [dim](opt-out)[/]",
             "opt_in": "[yellow]needs opt-in[/]"}
    for channel in CONTACT_CHANNELS:
        cells = []
        for purpose in CONTACT_PURPOSES:
            state, why = v.grid[(purpose, channel)]
            cells.append(shown[state] + (f" [dim]{escape(why)}[/]" if why else ""))
        t.add_row(channel, *cells)
    out.print(t)
    zone = zoneinfo.ZoneInfo(v.time_zone)
    for r in v.records:
        out.print(f"  {r.effective_from.astimezone(zone):%Y-%m-%d %H:%M} {r.purpose}/{r.channel} "
                  f"{r.status} via {escape(r.source)}"
                  + (f" by {escape(r.recorded_by)}" if r.recorded_by else "")
                  + (f" ({escape(r.reference)})" if r.reference else "")
                  + f" [dim]{escape('[' + r.origin + ']')}[/]", highlight=False)
    p = v.preference
    out.print(f"preferred channel {p.preferred_channel or '-'}, language "
              f"{p.language or '-'}, time zone {p.time_zone or '(policy default)'}",
              highlight=False)
    for pz in v.pauses:
        out.print(f"paused {pz.starts_on} to {pz.ends_on} {escape(pz.reason)}",
                  highlight=False)


@consent_app.command()
@user_errors
def prefer(
    customer: Customer,
    by: By,
    channel: Annotated[str | None, typer.Option(help="Preferred channel.")] = None,
    language: Annotated[str | None, typer.Option(help="ru, bg, en, ...")] = None,
    time_zone: Annotated[str | None, typer.Option(
        help="The customer's time zone, e.g. Asia/Yekaterinburg.")] = None,
    country: Annotated[str | None, typer.Option(
        help="Whose public holidays count: RU or BG.")] = None,
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
    force: Force = False,
) -> None:
    """Set a customer's preferred channel, language, time zone or country ("" clears).

    Example: `clientlens consent prefer C00000001 --channel email --language bg
    --time-zone Europe/Sofia --country BG --by ivanova`
    """
    p = commands.prefer(workspace, customer, recorded_by=by, db_url=db, force=force,
                        preferred_channel=channel, language=language, time_zone=time_zone,
                        country=country)
    out.print(f"{escape(customer.strip())}: preferred channel {p.preferred_channel or '-'}, "
              f"language {p.language or '-'}, time zone {p.time_zone or '-'}, country "
              f"{p.country or '-'}.", highlight=False)


@consent_app.command("pause")
@user_errors
def pause_(
    customer: Customer,
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.",
                                       show_default=False)],
    until: Annotated[str, typer.Option("--until", help="Last day, YYYY-MM-DD.",
                                       show_default=False)],
    by: By,
    reason: Annotated[str, typer.Option(help="Why, in a few words.")] = "",
    db: Db = None,
    workspace: WorkspaceOpt = Path("."),
    force: Force = False,
) -> None:
    """Pause every contact but service ones over some days, as the customer asked.

    Example: `clientlens consent pause C00000001 --from 2027-02-01 --until 2027-02-28
    --reason "abroad" --by ivanova`
    """
    p = commands.pause(workspace, customer, parse_date(start, "--from"),  # type: ignore[arg-type]
                       parse_date(until, "--until"),  # type: ignore[arg-type]
                       recorded_by=by, reason=reason, db_url=db, force=force)
    out.print(f"Paused {escape(customer.strip())} from {p.starts_on} to {p.ends_on}.",
              highlight=False)
