"""The console's pages: each page's server time against the JSON API call behind it,
in one run, on a demo bank of the size given.

    .venv/bin/python bench/console.py --customers 100000 --repeat 50
    .venv/bin/python bench/console.py --workspace demo-bank     # an existing one

Both are asked in-process through the ASGI app (httpx's ASGI transport: no network,
no browser), signed in as an admin (the page) and with an admin token (the API), so
the figures are the service's time. Prints median and p95 per page and the ratio of
the page's median to its API call's. Goals (issue 12): p95 under 150 ms for every
page, customer 360 under 100 ms, on 1,000,000 customers.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

PAGES = [  # (page, the API call behind it, or None)
    ("/console/overview", "/segments"),
    ("/console/migrations", None),
    ("/console/customers/C00000042", "/customers/C00000042/profile"),
    ("/console/lists?kind=actions", None),
    ("/console/referrals", None),
    ("/console/dictionary", "/dictionary"),
]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def measure(root: Path, repeat: int) -> list[tuple]:
    from clientlens.faces.http.app import create_app
    from clientlens.services.workspace import staff_users

    try:
        staff_users.add_user(root, "bench-admin", "admin", "bench password 123")
    except Exception:  # noqa: BLE001 - there already
        pass
    app = create_app(root, tokens={"bench-token": {"user": "bench", "role": "admin"}})
    out = []
    async with app.router.lifespan_context(app):
        app.state.backend.warming.join()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     follow_redirects=False, timeout=600) as c:
            form = await c.get("/console/login")
            token = re.search(r'name="login_token" value="([^"]+)"', form.text).group(1)
            signed = await c.post("/console/login", data={
                "username": "bench-admin", "password": "bench password 123",
                "login_token": token})
            assert signed.status_code == 303, signed.text[:300]
            api_headers = {"Authorization": "Bearer bench-token"}
            for page, api in PAGES:
                times = {"page": [], "api": []}
                for kind, url, headers in (("page", page, {}), ("api", api, api_headers)):
                    if url is None:
                        continue
                    first = await c.get(url, headers=headers)
                    if first.status_code != 200:
                        raise SystemExit(f"{url}: {first.status_code} {first.text[:200]}")
                    for _ in range(repeat):
                        t = time.perf_counter()
                        await c.get(url, headers=headers)
                        times[kind].append((time.perf_counter() - t) * 1000)
                out.append((page, api, times))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--workspace", type=Path, help="Use this workspace instead.")
    args = parser.parse_args()
    if args.workspace:
        root = args.workspace
    else:
        import datetime as dt

        from clientlens.services.workspace import jobs

        root = Path(tempfile.mkdtemp(prefix="clientlens-console-bench-")) / "bank"
        t = time.perf_counter()
        jobs.demo(root, customers=args.customers, earlier=dt.date(2026, 9, 30))
        print(f"demo bank of {args.customers:,} customers (two runs) in "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr)
    results = asyncio.run(measure(root, args.repeat))
    print(f"$ {' '.join(sys.argv)}")
    print(f"{'page':38} {'median ms':>10} {'p95 ms':>8}   {'API call':32} {'median':>7}"
          f" {'p95':>7} {'page/API':>8}")
    for page, api, times in results:
        pm, pp = statistics.median(times["page"]), _p95(times["page"])
        if times["api"]:
            am, ap = statistics.median(times["api"]), _p95(times["api"])
            print(f"{page:38} {pm:10.1f} {pp:8.1f}   {api:32} {am:7.1f} {ap:7.1f} "
                  f"{pm / am:7.1f}x")
        else:
            print(f"{page:38} {pm:10.1f} {pp:8.1f}   {'(none)':32}")


if __name__ == "__main__":
    main()
