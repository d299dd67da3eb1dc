"""`make bench`: seed, serve, load, measure, report. One command, about six minutes, plus
the import of a 50,000-credit bank statement (bench/imports.py; ~1.2 ms of CPU a credit,
about 60 s, then the rendering and sending of its receipts in-process, ~15 minutes:
docs/payments.md, Scale; --statement-entries to shorten it).

    python -m bench.run                 # the whole benchmark, then cleans up
    python -m bench.run --keep          # keep the database (and var/bench/) afterwards
    python -m bench.run --reuse         # skip seeding: reuse what --keep left
    python -m bench.run --seconds 5     # shorter runs (each scenario is 2 x this + warm-up)
    python -m bench.run --statement-entries 5000   # a smaller bank statement (0: none)

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_DB_NAME
(default billing_bench). The database is created and dropped by this script.
"""

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
KEEP_DIR = BASE_DIR / "var" / "bench"
SAMPLE_ACCOUNTS = 200
CONCURRENCY = (1, 16)
WARMUP_SECONDS = 2


def _args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="duration of each run (max 20)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the database and var/bench/")
    parser.add_argument("--reuse", action="store_true", help="reuse the data --keep left")
    parser.add_argument(
        "--only", default="", help="comma-separated scenarios to load (default: all)"
    )
    parser.add_argument(
        "--statement-entries",
        type=int,
        default=50_000,
        help="entries of the camt.053 imported after the load (0: no import)",
    )
    parser.add_argument("--no-report", action="store_true", help="do not write docs/")
    parser.add_argument("--results", type=Path, help="also write the raw results (JSON) here")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 20:
        parser.error("--seconds must be between 1 and 20")
    return args


def _environment(workdir: Path, db_url: str) -> dict[str, str]:
    """Production-like settings, on plain HTTP over loopback."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": db_url,
        "SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_MANIFEST": "1",
        "BENCH_STATIC_ROOT": str(workdir / "static"),
        "MEDIA_ROOT": str(workdir / "media"),
        "LOG_LEVEL": "WARNING",
        "EMAIL_URL": "memorymail://",
        "CELERY_BROKER_URL": "",
        "PYTHONUNBUFFERED": "1",
    }


def cpu_busy(seconds: float = 1.0) -> float:
    """Share of the machine's CPU time spent busy over `seconds` (all processes)."""

    def sample():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def _wait_until_quiet(limit: float = 0.10, timeout: float = 120) -> float:
    """Wait (a bounded time) for other work on the machine to end: the server under test is
    idle, so what is busy now is someone else, and it would be timed as our slowness."""
    deadline = time.monotonic() + timeout
    busy = cpu_busy(2)
    while busy > limit and time.monotonic() < deadline:
        print(f"  machine {busy:.0%} busy with other work; waiting for it to settle")
        busy = cpu_busy(5)
    return busy


def _sql(url: str, sql: str):
    """Outside any transaction (CREATE/DROP DATABASE, VACUUM cannot run in one); the first
    row of a query, if it returns rows."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchone() if cursor.description else None


def _server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _machine(admin_url: str) -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    import django
    import gunicorn
    import weasyprint
    from weasyprint.text.ffi import harfbuzz_subset

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn.__version__,
        "postgresql": _server_version(f"{admin_url}/postgres"),
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "weasyprint": weasyprint.__version__
        + (" (fonts subset by HarfBuzz)" if harfbuzz_subset else " (fonts subset by fontTools)"),
    }


def _scenarios(seeded, cookies, rng) -> dict[str, list[tuple[str, str]]]:
    """(path, Cookie header) pairs per scenario: each request as another account's owner."""
    from bench import seed
    from invoices.selectors import INVOICES_PER_PAGE

    sample = rng.sample(sorted(seeded.owners), SAMPLE_ACCOUNTS)
    oldest_page = -(-seed.LARGE_INVOICES // INVOICES_PER_PAGE)
    owner = seeded.owners

    def cookie(account):
        return cookies[owner[account]]

    return {
        "baseline": [("/bench/baseline", cookie(a)) for a in sample],
        "signed_in": [("/bench/signed-in", cookie(a)) for a in sample],
        "contacts": [("/billing/contacts/", cookie(a)) for a in sample],
        "invoices": [("/billing/invoices/", cookie(a)) for a in sample],
        "subscription": [("/billing/subscription/", cookie(a)) for a in sample],
        "invoice_view": [
            (f"/billing/invoices/{seeded.latest_invoice[a]}/", cookie(a)) for a in sample
        ],
        "pdf_download": [
            (f"/billing/invoices/{number}/pdf/", cookie(a)) for a, number in seeded.with_pdf.items()
        ],
        "invoices_10k": [("/billing/invoices/", cookie(a)) for a in seeded.large],
        # The oldest page: how deep pagination (OFFSET) scales with the number of invoices.
        "invoices_10k_oldest": [
            (f"/billing/invoices/?page={oldest_page}", cookie(a)) for a in seeded.large
        ],
        "invoices_10": [("/billing/invoices/", cookie(a)) for a in seeded.small],
    }


def _verify(base_url: str, scenarios: dict) -> None:
    """Every (path, cookie) answers 200 with the expected body before anything is timed:
    a lost session would otherwise be timed as a fast redirect to the sign-in page."""
    for name, targets in scenarios.items():
        for path, cookie in targets:
            url = base_url + path  # always http://127.0.0.1:<port>/...
            headers = {"Cookie": cookie, "Accept-Language": "fr"}
            request = urllib.request.Request(url, headers=headers)  # noqa: S310
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body = response.read()
                final = response.geturl()
                if response.status != 200 or not final.endswith(path):
                    raise RuntimeError(f"{name}: {path} answered {response.status} at {final}")
                if name == "pdf_download" and not body.startswith(b"%PDF-"):
                    raise RuntimeError(f"{path} is not a PDF")


def _query_counts(seeded, cookies) -> dict:
    from bench import measure, seed
    from invoices.selectors import INVOICES_PER_PAGE

    small, large = seeded.small[0], seeded.large[0]
    pdf_account, pdf_number = next(iter(seeded.with_pdf.items()))
    pages = {}
    for label, account in (("10 invoices", small), ("10,000 invoices", large)):
        cookie = cookies[seeded.owners[account]]
        for name, path in (
            ("contacts", "/billing/contacts/"),
            ("invoices", "/billing/invoices/"),
            ("subscription", "/billing/subscription/"),
            ("invoice_view", f"/billing/invoices/{seeded.latest_invoice[account]}/"),
        ):
            pages.setdefault(name, {})[label] = measure.count_queries(path, cookie)
    oldest = -(-seed.LARGE_INVOICES // INVOICES_PER_PAGE)
    pages["invoices"]["10,000 invoices, oldest page"] = measure.count_queries(
        f"/billing/invoices/?page={oldest}", cookies[seeded.owners[large]]
    )
    cookie = cookies[seeded.owners[pdf_account]]
    pages["pdf_download"] = {
        "stored PDF": measure.count_queries(f"/billing/invoices/{pdf_number}/pdf/", cookie)
    }
    pages["baseline"] = {"-": measure.count_queries("/bench/baseline", cookie)}
    pages["signed_in"] = {"-": measure.count_queries("/bench/signed-in", cookie)}
    return pages


def _load(server, name, targets, seconds, results, background) -> None:
    from bench import load

    background[name] = round(_wait_until_quiet() * 100)
    load.run(
        base_url=server.base_url,
        scenario=name,
        targets=targets,
        clients=max(CONCURRENCY),
        seconds=WARMUP_SECONDS,
    )
    for clients in CONCURRENCY:
        result = load.run(
            base_url=server.base_url,
            scenario=name,
            targets=targets,
            clients=clients,
            seconds=seconds,
        )
        results.append(result)
        print(
            f"  {name:<13} c={clients:<2} {result.rps:>8.1f} req/s  "
            f"p50 {result.p50_ms:>7.2f} ms  p99 {result.p99_ms:>7.2f} ms  "
            f"errors {result.errors}  (machine busy before: {background[name]} %)"
        )


def main(argv=None) -> int:
    args = _args(argv)
    started = time.monotonic()
    from bench import load

    load.wrk_path()  # fail early, before seeding, when wrk is missing
    admin_url = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    db_name = os.environ.get("BENCH_DB_NAME", "billing_bench")
    keep = args.keep or args.reuse
    workdir = KEEP_DIR if keep else Path(tempfile.mkdtemp(prefix="billing-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **_environment(workdir, f"{admin_url}/{db_name}")}
    os.environ.update(env)
    timings = {}
    server = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from bench import measure, report, seed
        from bench.server import Gunicorn, default_workers

        state_file = workdir / "seeded.json"
        if args.reuse:
            print(f"Reusing {db_name} and {workdir}")
            seeded = seed.Seeded(**json.loads(state_file.read_text()))
            for key in ("owners", "latest_invoice", "with_pdf"):
                setattr(seeded, key, {int(k): v for k, v in getattr(seeded, key).items()})
        else:
            t = time.monotonic()
            print(f"Creating database {db_name}")
            _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            _sql(f"{admin_url}/postgres", f'CREATE DATABASE "{db_name}"')
            shutil.rmtree(workdir / "media", ignore_errors=True)
            call_command("migrate", verbosity=0)
            print("Seeding")
            seeded = seed.seed()
            connection.close()
            # What autovacuum would have done to a database of this age: fresh statistics
            # and visibility map (index-only scans).
            _sql(f"{admin_url}/{db_name}", "VACUUM ANALYZE")
            timings["seed_s"] = round(time.monotonic() - t, 1)
            print(f"  seeded in {timings['seed_s']} s")
            if keep:
                state_file.write_text(json.dumps(asdict(seeded)))
        call_command("collectstatic", "--noinput", verbosity=0)

        rng = random.Random(7)
        owners = set(seeded.owners.values())
        cookies = measure.session_cookies(owners)
        scenarios = _scenarios(seeded, cookies, rng)

        print("Counting queries and timing PDF rendering (in-process)")
        queries = _query_counts(seeded, cookies)
        pdf_timing = measure.pdf_render_ms(seeded.one_page_invoice)
        print(f"  PDF render median {pdf_timing['median_ms']} ms")
        connection.close()

        workers = args.workers or default_workers()
        server = Gunicorn(workers=workers, env=env, log_path=workdir / "gunicorn.log")
        server.start()
        print(f"gunicorn: {workers} sync workers on {server.base_url}")
        _verify(server.base_url, scenarios)

        only = [s for s in args.only.split(",") if s] or list(scenarios)
        results = []
        background = {}
        for name in only:
            _load(server, name, scenarios[name], args.seconds, results, background)
        statements = None
        if args.statement_entries and not args.reuse:
            from bench import imports

            print("Importing a bank statement (in-process, through statement_import)")
            statements = imports.measure(entries=args.statement_entries)
            connection.close()
            # The Factures tab again, with the statement's payments in the database.
            _load(
                server,
                "invoices_after_import",
                scenarios["invoices"],
                args.seconds,
                results,
                background,
            )
            small_owner = cookies[seeded.owners[seeded.small[0]]]
            statements["factures_queries_after"] = measure.count_queries(
                "/billing/invoices/", small_owner
            )["queries"]
            connection.close()
        memory = server.worker_memory_mb()
        server.stop()
        server = None
        timings["total_s"] = round(time.monotonic() - started, 1)

        data = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": _machine(admin_url),
            "workers": workers,
            "seconds": args.seconds,
            "warmup_seconds": WARMUP_SECONDS,
            "sample_accounts": SAMPLE_ACCOUNTS,
            "data_set": seeded.counts,
            "results": [asdict(r) for r in results],
            "background_cpu_percent": background,
            "queries": queries,
            "pdf_render": pdf_timing,
            "memory": memory,
            "statements": statements,
            "timings": timings,
        }
        (workdir / "results.json").write_text(json.dumps(data, indent=2))
        if args.results:
            args.results.write_text(json.dumps(data, indent=2))
        if not args.no_report:
            report.write(data, BASE_DIR / "docs")
            print("Wrote docs/performance.md and docs/performance.png")
        for line in report.summary(data):
            print(line)
        if keep:
            (KEEP_DIR / "results.json").write_text(json.dumps(data, indent=2))
    finally:
        if server is not None:
            server.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 (Django may not be set up yet)
            pass
        if not keep:
            _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            shutil.rmtree(workdir, ignore_errors=True)
            print(f"Dropped {db_name}")
    print(f"Done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
