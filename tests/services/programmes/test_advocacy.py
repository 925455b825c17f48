"""Advocacy from the member-get-member programme reaches the warehouse: a referral made
and qualified in the programme counts in the referrer's ``referrals_made`` and
``referrals_qualified``, moves the loyalty score by the points ratings.yaml gives and
grants the advocate's bonus in customer management; a backfill of a date before the
invitation does not see it. The programme's table is copied on every engine and
cannot be imported from a file, while the bank's own ``referrals`` file still is."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from clientlens.appdb import AppDB, open_appdb
from clientlens.model.errors import ImportFileError
from clientlens.model.tables import TABLES
from clientlens.services.ingest.operational import sync_operational_tables
from clientlens.services.programmes import referrals as rf
from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import DEFAULTS, Workspace

AS_OF = dt.date(2026, 10, 31)  # the demo's run
INVITED = dt.date(2026, 9, 25)  # before the run, after the end of August
REGISTERED = dt.date(2026, 9, 28)
QUALIFIED = dt.date(2026, 10, 10)  # after the end of September
NEW_CUSTOMER = "N0000001"
TERMS = ("bank_referrals_made", "bank_referrals_qualified", "programme_referrals_made",
         "programme_referrals_qualified", "referrals_made", "referrals_qualified")


def factor_points(factor: dict, value: float | None) -> Decimal:
    """Points of a numeric factor of ratings.yaml for a value, read as the file says."""
    if value is None:
        return Decimal(str(factor.get("missing", 0)))
    for b in factor["bins"]:
        if "below" not in b or value < b["below"]:
            return Decimal(str(b["points"]))
    raise AssertionError(factor)


def profile(root: Path, customer_id: str, as_of: dt.date) -> dict:
    with Workspace(root).engine(read_only=True) as engine:
        rows = engine.fetch_arrow("select * from profiles where customer_id = ? and as_of = ?",
                                  [customer_id, as_of]).to_pylist()
    assert len(rows) == 1, (customer_id, as_of)
    return rows[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("advocacy") / "bank"
    jobs.demo(root, customers=1000, seed=3, as_of=AS_OF)
    return root


def test_a_qualified_programme_referral_feeds_loyalty_and_the_advocate_bonus(demo: Path
                                                                            ) -> None:
    root = demo
    ratings = yaml.safe_load((root / "definitions" / "ratings.yaml").read_text("utf-8"))
    loyalty = next(r for r in ratings["ratings"] if r["id"] == "loyalty")
    factors = {f["term"]: f for f in loyalty["factors"] if "term" in f}
    assert {"referrals_made", "referrals_qualified"} <= set(factors)

    # An advocate the programme accepts, with no referral in the bank's records and room
    # on the scale for the points the referral brings.
    with Workspace(root).engine(read_only=True) as engine:
        referrer = engine.fetch_all(
            "select customer_id from profiles where as_of = ? and phase = "
            "'customer_management' and loyalty_grade in ('A', 'B') and segment in "
            "('regular', 'status', 'social') and referrals_made = 0 and loyalty_score <= 80 "
            "order by customer_id limit 1", [AS_OF])[0][0]
    before = profile(root, referrer, AS_OF)
    assert before["svc_advocate_bonus"] is False
    assert all(before[t] == 0 for t in TERMS)

    assert [p.created for p in jobs.publish_referral_programmes(root)] == [True]
    with Workspace(root).app_db() as db:
        code = rf.issue_code(db, "friends", referrer, jobs.referrer_profile(root, referrer),
                             INVITED).code
        assert not jobs.is_customer(root)(NEW_CUSTOMER)
        reg = rf.register(db, code, NEW_CUSTOMER, {"phone": "+7 900 123-45-67"}, REGISTERED,
                          existing_customer_ids=jobs.is_customer(root))
        assert not reg.rejected, reg
        q = rf.qualify(db, NEW_CUSTOMER, {"kind": "product_opened", "on": QUALIFIED,
                                          "product_type": "card"}, QUALIFIED)
        assert q.accepted and q.newly_rewarded

    jobs.run(root, AS_OF)  # the same date again: only the referral changed
    after = profile(root, referrer, AS_OF)
    assert (after["programme_referrals_made"], after["programme_referrals_qualified"]) == (1, 1)
    assert after["referrals_made"] == before["referrals_made"] + 1
    assert after["referrals_qualified"] == before["referrals_qualified"] + 1
    assert (after["bank_referrals_made"], after["bank_referrals_qualified"]) == (0, 0)

    gained = sum(factor_points(factors[t], after[t]) - factor_points(factors[t], before[t])
                 for t in ("referrals_made", "referrals_qualified"))
    assert gained > 0
    assert after["loyalty_score"] == min(Decimal(100), before["loyalty_score"] + gained)
    assert after["phase"] == "customer_management"
    assert after["svc_advocate_bonus"] is True
    with Workspace(root).engine(read_only=True) as engine:
        stored = engine.fetch_all("select referral_id, invited_on, referred_customer_id, "
                                  "qualified_on from programme_referrals where customer_id = ?",
                                  [referrer])
        assert stored == [(f"R{reg.registration_id:09d}", INVITED, NEW_CUSTOMER, QUALIFIED)]
        # the bank's own table is left to the bank's files
        assert not engine.fetch_all("select 1 from referrals where referred_customer_id = ?",
                                    [NEW_CUSTOMER])
        assert engine.fetch_all("select count(*) from entitlement_events where as_of = ? and "
                                "customer_id = ? and service = 'advocate_bonus' and event = "
                                "'granted'", [AS_OF, referrer]) == [(1,)]

    # Backfill: the end of August is before the invitation, the end of September between
    # the invitation and the qualifying fact.
    done = jobs.backfill(root, dt.date(2026, 8, 1), dt.date(2026, 9, 30))
    assert [r.as_of for r in done.ran] == [dt.date(2026, 8, 31), dt.date(2026, 9, 30)]
    august = profile(root, referrer, dt.date(2026, 8, 31))
    assert (august["programme_referrals_made"], august["programme_referrals_qualified"]) == (0, 0)
    september = profile(root, referrer, dt.date(2026, 9, 30))
    assert (september["programme_referrals_made"],
            september["programme_referrals_qualified"]) == (1, 0)
    assert september["svc_advocate_bonus"] is False


def test_the_programme_table_is_not_imported_but_the_banks_referrals_are(demo: Path,
                                                                        tmp_path: Path) -> None:
    assert TABLES["programme_referrals"].origin == "appdb"
    assert TABLES["programme_referrals"].column_names == TABLES["referrals"].column_names
    assert TABLES["referrals"].origin == "import"
    with Workspace(demo).engine(read_only=True) as engine:
        assert engine.fetch_all("select count(*) from referrals")[0][0] > 0  # the demo's file
    exported = tmp_path / "programme_referrals.csv"
    exported.write_text("referral_id,customer_id,invited_on\nR1,C00000001,2026-10-01\n",
                        encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"clientlens referrals\), not imported"):
        jobs.import_files(demo, [exported])
    bank_file = tmp_path / "referrals_2026-10.csv"
    with Workspace(demo).engine(read_only=True) as engine:
        customer = engine.fetch_all("select min(customer_id) from customers")[0][0]
    bank_file.write_text(f"referral_id,customer_id,invited_on\nRX1,{customer},2026-10-01\n",
                         encoding="utf-8")
    (report,) = jobs.import_files(demo, [bank_file])
    assert (report.table, report.rows_loaded) == ("referrals", 1)


# -- every engine takes the programme's referrals ------------------------------------------


def programme_db(tmp_path: Path) -> AppDB:
    db = open_appdb(f"sqlite:///{tmp_path / 'app.sqlite'}")
    rf.publish_programme(db, DEFAULTS / "referrals" / "friends.yaml")
    advocate = {"segment": "regular", "phase": "customer_management", "loyalty_grade": "A"}
    code = rf.issue_code(db, "friends", "C1", advocate, INVITED).code
    rf.issue_code(db, "friends", "C1", advocate, QUALIFIED)  # nobody registers with it
    rf.register(db, code, NEW_CUSTOMER, None, REGISTERED)
    rf.qualify(db, NEW_CUSTOMER, {"kind": "product_opened", "on": QUALIFIED,
                                  "product_type": "deposit"}, QUALIFIED)
    return db


def synced_counts(engine, db: AppDB) -> None:  # noqa: ANN001
    """Sync twice (a run replaces, never appends), then count per date."""
    sync_operational_tables(db, engine)
    assert sync_operational_tables(db, engine)["programme_referrals"] == 2
    rows = engine.fetch_all("select referral_id, customer_id, invited_on, referred_customer_id, "
                            "qualified_on from programme_referrals order by invited_on")
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("C1", INVITED, NEW_CUSTOMER, QUALIFIED), ("C1", QUALIFIED, None, None)]


def test_postgres_takes_the_programme_referrals(postgres_url: str, pg_schema: str,
                                                tmp_path: Path) -> None:
    from clientlens.engines.postgres_engine import PostgresEngine

    engine = PostgresEngine(postgres_url, schema=pg_schema)
    db = programme_db(tmp_path)
    try:
        synced_counts(engine, db)
    finally:
        db.close()
        engine.close()


def test_spark_takes_the_programme_referrals(spark_available: None, tmp_path: Path) -> None:
    from clientlens.engines.spark_engine import SparkEngine

    db = programme_db(tmp_path)
    try:
        synced_counts(SparkEngine(tmp_path / "lake", master="local[2]"), db)
    finally:
        db.close()
