"""`make bench`, bank statements: the bench's camt.053 (bench/statement.py) imported
through payments.services.statement_import, the service the admin's upload calls, timed,
its SQL queries counted; and what docs/performance.md says of it.

The queries are measured on smaller statements of the same mix, imported and rolled back
(they leave the data set as it was): with n entries, total = a + b·n, and b must be about
nothing: a fixed number of queries for the file and for each chunk of credits recorded
together (payments.services.statements.CHUNK), none for each credit. The full statement is
then imported for good, so the Factures tab is timed again with those payments present.
"""

import os
import time
from pathlib import Path

from django.db import connection, transaction

TARGET_SECONDS = 60
SAMPLE_SIZES = (100, 200, 500)  # multiples of 100: the same mix, exactly
# Queries per added entry: ~28 a chunk of 5,000 credits is 0.006; one a credit would be 1.
MAX_QUERIES_PER_ENTRY = 0.1


class _Rollback(Exception):
    pass


class _Counter:
    def __init__(self):
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)


def _support_user():
    from accounts.models import User

    user, _created = User.objects.get_or_create(
        email="support@bench.example",
        defaults={"first_name": "Support", "last_name": "Bench", "is_staff": True},
    )
    return user


def _import(data: bytes, actor, *, keep: bool) -> dict:
    """The import's own queries and time, up to its commit; then, apart, what runs after
    the commit: the receipts handed to the outbox's sender (without a broker, as here,
    Celery runs the send in-process)."""
    from payments.services import statement_import

    counter = _Counter()
    backend = _backend_pid()
    try:
        with connection.execute_wrapper(counter):
            with transaction.atomic():
                started = time.perf_counter()
                cpu = time.process_time(), _cpu_seconds(backend)
                statement = statement_import(data=data, file_name="bench.xml", actor=actor)
                seconds = time.perf_counter() - started
                python_cpu = time.process_time() - cpu[0]
                database_cpu = _cpu_seconds(backend) - cpu[1]
                queries = counter.queries
                if not keep:
                    raise _Rollback
            after_commit = time.perf_counter() - started - seconds
    except _Rollback:
        after_commit = 0
    return {
        "seconds": round(seconds, 2),
        # CPU time of the import: this process's, and its PostgreSQL backend's (when the
        # server runs on this machine). On a shared machine the wall time above is theirs
        # plus the time spent waiting for a core; on an idle one, about their sum.
        "python_cpu_seconds": round(python_cpu, 2),
        "database_cpu_seconds": round(database_cpu, 2),
        "queries": queries,
        "after_commit_seconds": round(after_commit, 2),
        "after_commit_queries": counter.queries - queries,
        "credits": statement.credits,
        "new": statement.new_entries,
        "matched": statement.matched,
        "queued": statement.queued,
    }


def _backend_pid() -> int:
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (0 when it is not on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(*, entries: int, log=print) -> dict:
    """Build and import the statements; returns what the report shows."""
    from bench import statement as bench_statement
    from payments import camt

    actor = _support_user()
    samples = []
    for size in SAMPLE_SIZES:
        built = bench_statement.build(size, prefix=f"Q{size}-")
        result = _import(built.data, actor, keep=False)
        result["entries"] = size
        samples.append(result)
        log(
            f"  {size:>6} entries (rolled back): {result['queries']} queries, {result['seconds']} s"
        )
    started = time.perf_counter()
    built = bench_statement.build(entries)
    build_seconds = round(time.perf_counter() - started, 1)
    log(f"  statement of {built.entries} entries: {len(built.data):,} bytes ({build_seconds} s)")
    full = _import(built.data, actor, keep=True)
    full["entries"] = built.entries
    log(
        f"  imported in {full['seconds']} s (CPU: {full['python_cpu_seconds']} s here, "
        f"{full['database_cpu_seconds']} s in PostgreSQL), {full['queries']} queries, "
        f"{full['matched']} matched, {full['queued']} queued; after the commit "
        f"{full['after_commit_seconds']} s, {full['after_commit_queries']} queries"
    )
    return {
        "entries": built.entries,
        "bytes": len(built.data),
        "max_bytes": camt.max_bytes(),
        "refuses_50_mb": camt.size_error(50_000_000) is not None,
        "mix": dict(built.kinds),
        "expected_matched": built.expected_matched,
        "samples": samples,
        "full": full,
    }


def slopes(data: dict) -> list[float]:
    """Queries per added entry between consecutive sizes (the b of a + b·n)."""
    points = [(s["entries"], s["queries"]) for s in data["samples"]]
    points.append((data["full"]["entries"], data["full"]["queries"]))
    return [
        round((q2 - q1) / (n2 - n1), 2)
        for (n1, q1), (n2, q2) in zip(points, points[1:], strict=False)
    ]


def targets(data: dict, after: dict | None, before: dict | None) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for docs/performance.md."""
    full = data["full"]
    rows = [
        (
            f"camt.053 of {data['entries']:,} entries imported in < {TARGET_SECONDS} s",
            f"{full['seconds']:,.1f} s "
            f"({full['seconds'] / full['entries'] * 1000:.1f} ms an entry)",
            full["seconds"] < TARGET_SECONDS,
        ),
    ]
    b = slopes(data)
    rows.append(
        (
            "A fixed number of queries per chunk of credits, none per credit "
            f"(total = a + b·n, b < {MAX_QUERIES_PER_ENTRY})",
            f"b = {', '.join(str(x) for x in b)} between "
            + ", ".join(f"{s['entries']:,}" for s in data["samples"])
            + f" and {full['entries']:,} entries",
            max(b) < MAX_QUERIES_PER_ENTRY,
        )
    )
    rows.append(
        (
            f"The statement fits the upload limit ({data['max_bytes']:,} bytes), 50 MB is refused",
            f"{data['bytes']:,} bytes; 50,000,000 bytes "
            + ("refused" if data["refuses_50_mb"] else "ACCEPTED"),
            data["bytes"] <= data["max_bytes"] and data["refuses_50_mb"],
        )
    )
    if after and before:
        ratio = after["rps"] / before["rps"]
        rows.append(
            (
                "Factures tab no slower with the statement's payments (16 clients, "
                "≥ 85 % of the req/s before: the run-to-run noise)",
                f"{after['rps']:,.1f} req/s vs {before['rps']:,.1f} ({ratio:.0%}); "
                f"p99 {after['p99_ms']:.1f} ms vs {before['p99_ms']:.1f} ms",
                ratio >= 0.85,
            )
        )
    return rows


def markdown(data: dict) -> list[str]:
    full = data["full"]
    out = [
        "## Bank statements",
        "",
        f"A camt.053.001.08 of {data['entries']:,} entries ({data['bytes']:,} bytes, written "
        "compact as banks send it, valid against the ISO 20022 XSD) paying the open invoices "
        "of the data set (`bench/statement.py`), imported through "
        "`payments.services.statement_import` — what the admin's upload calls — in one "
        "process against the bench database. Its mix: "
        + ", ".join(f"{kind} {count:,}" for kind, count in data["mix"].items())
        + f" (expected matched: {data['expected_matched']:,}).",
        "",
        "| Statement | Entries | Queries | Queries / entry | Matched | Queued | Time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, row in [
        *(("sample, rolled back", s) for s in data["samples"]),
        ("the bench's statement, kept", full),
    ]:
        out.append(
            f"| {label} | {row['entries']:,} | {row['queries']:,} | "
            f"{row['queries'] / row['entries']:.2f} | {row['matched']:,} | {row['queued']:,} | "
            f"{row['seconds']:,.1f} |"
        )
    out += [
        "",
        "Queries per added entry (b of a + b·n) between consecutive sizes: "
        + ", ".join(str(x) for x in slopes(data))
        + " (a fixed number of queries for each chunk of credits recorded together, none "
        "for each credit). Time and queries are the service's, up to its commit. After the "
        "commit, the receipts are handed to the outbox's sender: "
        f"{full['after_commit_seconds']:,.1f} s and {full['after_commit_queries']:,} queries "
        "here, where without a broker Celery sends them in-process (in production, one "
        "publish a chunk, a worker sending them).",
        "",
    ]
    if "factures_queries_after" in data:
        out += [
            "The Factures tab after the import: "
            f"{data['factures_queries_after']} queries (see its line in the load table).",
            "",
        ]
    return out
