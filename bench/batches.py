"""Batch runs fanned out over Celery workers: one worker against two.

    python -m bench.batches                   # seed a template once, time each batch
    python -m bench.batches --keep            # keep the template database afterwards
    python -m bench.batches --reuse           # reuse the template --keep left
    python -m bench.batches --only renewals   # one batch

The periodic runs (renewals, ...) find what is due and publish one idempotent task per
account or row; the workers do the work. This measures what a second worker buys: the
benchmark's data set (bench/seed.py) is seeded once into a template database, and each
(batch, workers) run gets a fresh copy of it (CREATE DATABASE ... TEMPLATE), a real Redis
broker (BENCH_REDIS, default redis://127.0.0.1:6379/15, flushed before each run) and real
`celery worker` processes. The clock starts when the run task is called (it publishes the
tasks) and stops when the database shows every row done (polled every 0.2 s), including
the PDFs and emails the work queued. Writes docs/performance-batches.md.

Environment: BENCH_PG (default postgres://postgres@127.0.0.1:5432), BENCH_REDIS.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.run import _sql

BASE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DB = "billing_bench_batches_tpl"
RUN_DB = "billing_bench_batches_run"
WORKER_COUNTS = (1, 2)
TIMEOUT_S = 600


@dataclass
class Batch:
    """A periodic run to time: `prepare` (SQL on a fresh copy) makes `rows` pieces of work
    due today; `task` is the run task's dotted path; `done` is a SQL query returning how
    many of them are finished (it must reach `rows`)."""

    name: str
    label: str
    rows: int
    prepare: list[str]
    task: str
    done: str
    # Python run in a child process with Django set up: after `prepare` (more setting up),
    # and once the batch is done (a measurement printed as one JSON line).
    prepare_python: str = ""
    after: str = ""


def batches(rows: int, accounts: int) -> list[Batch]:
    # Renewals: `rows` subscriptions whose period ends today. Each renewal issues an
    # invoice (gapless number, audit, PDF task, email to owner and billing contacts).
    # Reminders: the newest invoice of each of the first `accounts` accounts, reopened
    # (unpaid) when it was paid, fell due yesterday (the « 1 day after » stage); every other
    # open invoice is due in two months. Each reminder is an outbox email with the QR code
    # to the owner and billing contacts, and an audit event; done when every reminder is
    # recorded (the emails then leave through the outbox, on the same workers).
    newest = (
        "SELECT DISTINCT ON (organisation_id) id FROM invoices_invoice i "
        "WHERE kind = 'invoice' AND status IN ('open', 'paid') "
        "AND issue_date < CURRENT_DATE - 1 "
        "AND NOT EXISTS (SELECT 1 FROM invoices_invoice c WHERE c.corrects_id = i.id) "
        "ORDER BY organisation_id, issue_date DESC, id DESC"
    )
    reminded = f"SELECT id FROM ({newest}) AS newest ORDER BY id LIMIT {accounts}"
    return [
        Batch(
            name="renewals",
            label="Renewals (invoice, PDF, email per subscription)",
            rows=rows,
            prepare=[
                "UPDATE subscriptions_subscription SET period_end = CURRENT_DATE, "
                "period_start = (CURRENT_DATE - INTERVAL '1 year')::date "
                f"WHERE id IN (SELECT id FROM subscriptions_subscription "
                f"WHERE status = 'active' ORDER BY id LIMIT {rows})",
            ],
            task="subscriptions.tasks.renewals_run",
            # Renewed, with the new invoice's PDF stored and no email left to send.
            done=(
                "SELECT CASE WHEN (SELECT count(*) FROM emails_email "
                "WHERE status IN ('pending', 'sending')) = 0 THEN ("
                "SELECT count(*) FROM subscriptions_subscription s "
                "JOIN invoices_invoice i ON i.organisation_id = s.organisation_id "
                "AND i.period_start = s.period_start AND i.pdf_name <> '' "
                "WHERE s.period_start = CURRENT_DATE) ELSE 0 END"
            ),
        ),
        Batch(
            name="reminders",
            label="Payment reminders (email with QR code, audit, per account)",
            rows=accounts,
            prepare=[
                "UPDATE invoices_invoice SET due_date = CURRENT_DATE + 60 WHERE status = 'open'",
                "UPDATE invoices_invoice SET due_date = CURRENT_DATE - 1, status = 'open', "
                f"amount_paid = 0, paid_on = NULL WHERE id IN ({reminded})",
            ],
            task="payments.tasks.payment_reminders_run",
            done="SELECT count(*) FROM payments_reminder",
        ),
        # Direct debit: `accounts` accounts with an active mandate and one collection planned
        # in 14 days (bench.batches.mandates_prepare); the hourly run pre-notifies them (an
        # email and an audit event per account), then support exports the pain.008 file of
        # that date in one call (timed, queries counted: bench.batches.export_measure).
        Batch(
            name="direct_debit",
            label="Direct debit pre-notifications (email, audit, per account)",
            rows=accounts,
            prepare=[],
            prepare_python=(
                f"from bench.batches import mandates_prepare; mandates_prepare({accounts})"
            ),
            task="payments.tasks.prenotifications_run",
            done="SELECT count(*) FROM payments_collection WHERE status = 'notified'",
            after="from bench.batches import export_measure; export_measure()",
        ),
    ]


def mandates_prepare(accounts: int) -> None:
    """An active mandate for each of the first `accounts` accounts, and a collection of its
    newest invoice planned in DIRECT_DEBIT_NOTICE_DAYS days (the invoice reopened when it
    was paid). SEPA is euro-only and the data set invoices about a fifth of its accounts in
    pounds or dollars: their newest invoice is turned into euros here (bench data only), so
    that every account has a mandate to collect. Written in bulk, as the services would
    have left them."""
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from invoices.models import Invoice
    from payments.models import Collection, Mandate

    today = timezone.localdate()
    collect_on = today + timedelta(days=settings.DIRECT_DEBIT_NOTICE_DAYS)
    newest = {}
    for invoice in (
        Invoice.objects.filter(kind="invoice", status__in=["open", "paid"])
        .exclude(corrections__isnull=False)
        .order_by("organisation_id", "-issue_date", "-pk")
        .only("pk", "organisation_id", "total", "number")
        .iterator(chunk_size=5000)
    ):
        newest.setdefault(invoice.organisation_id, invoice)
        if len(newest) > accounts:
            break
    chosen = [newest[k] for k in sorted(newest)[:accounts]]
    with transaction.atomic():
        Invoice.objects.filter(pk__in=[i.pk for i in chosen]).update(
            status="open", amount_paid=0, paid_on=None
        )
        with connection.cursor() as cursor:  # the model refuses to change an issued invoice
            cursor.execute(
                "UPDATE invoices_invoice SET currency = 'EUR' WHERE id = ANY(%s)",
                [[i.pk for i in chosen]],
            )
        mandates = Mandate.objects.bulk_create(
            Mandate(
                organisation_id=invoice.organisation_id,
                reference=f"BENCH-{invoice.organisation_id:06d}-1",
                scheme=Mandate.Scheme.CORE,
                status=Mandate.Status.ACTIVE,
                holder_name=f"Account {invoice.organisation_id}",
                holder_address="1 place Bellecour\n69002 Lyon",
                holder_country="FR",
                iban="FR1420041010050500013M02606",
                signed_place="Lyon",
                signed_on=today - timedelta(days=30),
                language="fr",
                confirmed_at=timezone.now() - timedelta(days=30),
            )
            for invoice in chosen
        )
        Collection.objects.bulk_create(
            Collection(
                invoice=invoice,
                mandate=mandate,
                amount=invoice.total,
                currency="EUR",
                collect_on=collect_on,
                end_to_end_id=f"{invoice.number}-1",
                status=Collection.Status.PLANNED,
            )
            for invoice, mandate in zip(chosen, mandates, strict=True)
        )


def export_measure() -> None:
    """Support exports the pain.008 file of the notified collections: time and queries."""
    import json
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from accounts.models import User
    from payments.services import direct_debit_export

    collect_on = timezone.localdate() + timedelta(days=settings.DIRECT_DEBIT_NOTICE_DAYS)
    actor = User.objects.filter(is_superuser=True).first() or User.objects.first()
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        export = direct_debit_export(scheme="CORE", collect_on=collect_on, actor=actor)
    seconds = time.monotonic() - started
    print(
        json.dumps(
            {
                "export_collections": export.count,
                "export_seconds": round(seconds, 2),
                "export_queries": len(queries),
                "export_bytes": len(export.xml.encode()),
            }
        )
    )


@dataclass
class Result:
    batch: str
    workers: int
    rows: int
    seconds: float
    per_second: float
    done: int
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def _child(code: str, env: dict) -> str:
    """Run `code` in a child process with Django set up; its standard output."""
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"{code} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _environment(workdir: Path, db_url: str, broker: str) -> dict[str, str]:
    from bench.run import _environment as server_environment

    env = {**os.environ, **server_environment(workdir, db_url)}
    env["CELERY_BROKER_URL"] = broker
    env["MEDIA_ROOT"] = str(workdir / "media")
    return env


def _seed_template(admin_url: str, workdir: Path, broker: str) -> None:
    """Migrate and seed the template database in a child process (the template must have
    no open connection when it is copied)."""
    _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    _sql(f"{admin_url}/postgres", f'CREATE DATABASE "{TEMPLATE_DB}"')
    env = _environment(workdir, f"{admin_url}/{TEMPLATE_DB}", "")
    code = (
        "import django; django.setup();"
        "from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "from bench import seed; seed.seed(pdfs=1)"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=BASE_DIR, check=True)
    _sql(f"{admin_url}/{TEMPLATE_DB}", "VACUUM ANALYZE")


def _start_workers(count: int, env: dict, workdir: Path) -> list[subprocess.Popen]:
    workers = []
    for n in range(count):
        log = open(workdir / f"worker-{n}.log", "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "billing_portal",
                "worker",
                "--concurrency=1",
                "--pool=prefork",
                f"--hostname=bench{n}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
            ],
            env=env,
            cwd=BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.log = log
        workers.append(process)
    return workers


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    for process in workers:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in workers:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.log.close()


def _run(batch: Batch, workers: int, admin_url: str, broker: str, workdir: Path) -> Result:
    import redis

    run_url = f"{admin_url}/{RUN_DB}"
    _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)')
    _sql(f"{admin_url}/postgres", f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{TEMPLATE_DB}"')
    for statement in batch.prepare:
        _sql(run_url, statement)
    redis.Redis.from_url(broker).flushdb()
    env = _environment(workdir, run_url, broker)
    if batch.prepare_python:
        _child(batch.prepare_python, env)
    processes = _start_workers(workers, env, workdir)
    try:
        time.sleep(3)  # the workers connect to the broker and start their children
        module, name = batch.task.rsplit(".", 1)
        code = f"import django; django.setup(); from {module} import {name}; print({name}())"
        started = time.monotonic()
        published = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True
        )
        if published.returncode:
            raise RuntimeError(f"{batch.task} failed:\n{published.stderr[-3000:]}")
        # What the run found due: the rows prepared, unless the data set had fewer.
        expected = int(published.stdout.split()[-1])
        done = 0
        while time.monotonic() - started < TIMEOUT_S:
            done = _sql(run_url, batch.done)[0]
            if done >= expected:
                break
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a worker stopped; see {workdir}/worker-*.log")
            time.sleep(0.2)
        seconds = time.monotonic() - started
        extra = {}
        if batch.after and done >= expected:
            extra = json.loads(_child(batch.after, env).strip().splitlines()[-1])
    finally:
        _stop_workers(processes)
        _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)')
    result = Result(
        batch=batch.name,
        workers=workers,
        rows=expected,
        seconds=round(seconds, 1),
        per_second=round(done / seconds, 1),
        done=done,
        timed_out=done < expected,
        extra=extra,
    )
    if not expected or expected > batch.rows:
        result.errors.append(f"{batch.rows} rows prepared, the run found {expected} due")
    return result


def report(results: list[Result], batch_list: list[Batch], path: Path, machine: str) -> None:
    by_name = {b.name: b for b in batch_list}
    lines = [
        "# Batch runs: one Celery worker against two",
        "",
        "Written by `python -m bench.batches` (part of `make bench`); do not edit by hand.",
        "",
        f"Run on {datetime.now(UTC).date().isoformat()}, {machine}. Each run starts from a "
        "fresh copy of the benchmark's data set (2,000 accounts, 200,000 invoices), a real "
        "Redis broker and real `celery worker` processes (one process each, prefork, "
        "concurrency 1, prefetch 1). The clock runs from the periodic task's call (it "
        "publishes one task per subscription, per account or per chunk of accounts) until "
        "the database shows every row done.",
        "",
        "| Batch | Rows | 1 worker | 2 workers | Speed-up |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, batch in by_name.items():
        runs = {r.workers: r for r in results if r.batch == name}
        if not runs:
            continue
        one, two = runs.get(1), runs.get(2)
        cells = [
            f"{r.seconds} s ({r.per_second}/s){' TIMED OUT' if r.timed_out else ''}" if r else "-"
            for r in (one, two)
        ]
        speedup = f"{one.seconds / two.seconds:.2f}×" if one and two and two.seconds else "-"
        rows = max(r.rows for r in runs.values())
        lines.append(f"| {batch.label} | {rows} | {cells[0]} | {cells[1]} | {speedup} |")
    exports = [r.extra for r in results if r.extra.get("export_collections")]
    if exports:
        lines += [
            "",
            "Then support exports the pain.008 file of the notified collections "
            "(`direct_debit_export`, one call, in-process, queries counted):",
            "",
            "| Collections | Time | Queries | File |",
            "|---:|---:|---:|---:|",
        ]
        for e in exports:
            lines.append(
                f"| {e['export_collections']} | {e['export_seconds']} s | "
                f"{e['export_queries']} | {e['export_bytes'] / 1e6:.1f} MB |"
            )
    errors = [f"- {r.batch}, {r.workers} worker(s): {e}" for r in results for e in r.errors]
    if errors:
        lines += ["", "Problems:", *errors]
    path.write_text("\n".join(lines) + "\n")


def _args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.batches", description=__doc__)
    parser.add_argument("--rows", type=int, default=300, help="renewals (default 300)")
    parser.add_argument(
        "--accounts", type=int, default=2000, help="accounts reminded (default 2,000)"
    )
    parser.add_argument("--only", default="", help="comma-separated batches (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the template database")
    parser.add_argument("--reuse", action="store_true", help="reuse the template --keep left")
    parser.add_argument("--no-report", action="store_true", help="do not write docs/")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _args(argv)
    admin_url = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    broker = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/15")
    workdir = Path(tempfile.mkdtemp(prefix="billing-batches-"))
    started = time.monotonic()
    try:
        if not args.reuse:
            print(f"Seeding the template database {TEMPLATE_DB}")
            _seed_template(admin_url, workdir, broker)
        else:  # the code may have new migrations since the template was seeded
            env = _environment(workdir, f"{admin_url}/{TEMPLATE_DB}", "")
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--verbosity=0"],
                env=env,
                cwd=BASE_DIR,
                check=True,
            )
        batch_list = [
            b
            for b in batches(args.rows, args.accounts)
            if not args.only or b.name in args.only.split(",")
        ]
        results = []
        for batch in batch_list:
            for workers in WORKER_COUNTS:
                result = _run(batch, workers, admin_url, broker, workdir)
                results.append(result)
                print(
                    f"  {batch.name:<12} {workers} worker(s): {result.done}/{result.rows} "
                    f"in {result.seconds} s ({result.per_second}/s)"
                    + (" TIMED OUT" if result.timed_out else "")
                    + "".join(f"; {e}" for e in result.errors)
                    + (f"; {result.extra}" if result.extra else ""),
                    flush=True,
                )
        if not args.no_report:
            cpu = f"{os.cpu_count()} cores"
            report(results, batch_list, BASE_DIR / "docs" / "performance-batches.md", cpu)
            print("Wrote docs/performance-batches.md")
    finally:
        if not args.keep:
            _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"Done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
