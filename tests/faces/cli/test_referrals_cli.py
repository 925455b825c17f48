"""The referral programme from the command line, end to end on a demo workspace:
publish, code for an eligible advocate, register, qualify once, points, funnel."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from clientlens.services.workspace import jobs
from clientlens.services.workspace.folder import DEFAULTS, Workspace
from tests.support.cli import cli


def test_member_get_member_from_the_cli(tmp_path: Path) -> None:
    root = tmp_path / "bank"
    jobs.demo(root, customers=3000, seed=3)
    w = str(root)
    if not (root / "definitions" / "referrals").exists():
        shutil.copytree(DEFAULTS / "referrals", root / "definitions" / "referrals")
    assert "friends version 1 (new)" in cli("referrals", "publish", "-w", w).stdout
    assert "(unchanged)" in cli("referrals", "publish", "-w", w).stdout
    with Workspace(root).engine(read_only=True) as engine:
        advocate = engine.fetch_all(
            "select customer_id from profiles where phase = 'customer_management' and "
            "loyalty_grade in ('A', 'B') and segment in ('regular', 'status', 'social') "
            "order by customer_id limit 1")[0][0]
        outsider = engine.fetch_all("select customer_id from profiles where phase = "
                                    "'potential_divorce' order by customer_id limit 1")[0][0]
        (phone,) = engine.fetch_all("select phone from customers where customer_id = ?",
                                    [advocate])[0]
    refused = cli("referrals", "code", outsider, "-w", w, check=False)
    assert refused.returncode == 1 and "may not refer" in refused.stderr
    issued = cli("referrals", "code", advocate, "-w", w, "--on", "2026-11-01").stdout
    code = re.search(r"Code (\w+)", issued).group(1)
    # The CLI registers through the HTTP service's path: the referrer's own phone, read
    # from the warehouse (the code was issued without it), is a self-referral.
    assert phone
    selfie = cli("referrals", "register", code, "NEW0", "--phone", phone, "--on", "2026-11-02",
                 "-w", w, check=False)
    assert selfie.returncode == 1 and "self_referral" in selfie.stderr
    assert "Registered NEW1" in cli("referrals", "register", code, "NEW1", "--on",
                                    "2026-11-02", "-w", w).stdout
    again = cli("referrals", "register", code, outsider, "--on", "2026-11-02", "-w", w,
                check=False)
    assert again.returncode == 1 and "already_customer" in again.stderr
    first = cli("referrals", "qualify", "NEW1", "--kind", "product_opened", "--product-type",
                "card", "--on", "2026-11-10", "-w", w).stdout
    assert "rewards posted" in first
    second = cli("referrals", "qualify", "NEW1", "--kind", "product_opened", "--product-type",
                 "card", "--on", "2026-11-12", "-w", w).stdout
    assert "rewards posted" not in second  # exactly once
    assert "1,000 points" in cli("referrals", "balance", advocate, "-w", w).stdout
    overdraft = cli("referrals", "redeem", advocate, "5000", "--key", "k1", "-w", w,
                    check=False)
    assert overdraft.returncode == 1 and "more than the balance" in overdraft.stderr
    funnel = cli("referrals", "funnel", "friends", "-w", w).stdout
    assert re.search(r"rewarded\s*│\s*1", funnel) and "already_customer" in funnel
