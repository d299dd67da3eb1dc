"""docs/performance.md and docs/performance.png from one run's results.

The analysis written by hand between the ANALYSIS markers of the existing
docs/performance.md is kept across runs; everything else is regenerated.
"""

import re
from pathlib import Path

ANALYSIS_START = "<!-- analysis:start (kept across runs; edit by hand) -->"
ANALYSIS_END = "<!-- analysis:end -->"
TABS = ("contacts", "invoices", "subscription")
LABELS = {
    "baseline": "Baseline (plain text view)",
    "signed_in": "Signed-in floor (portal_view, plain text)",
    "contacts": "Contacts du compte tab",
    "invoices": "Factures tab",
    "subscription": "Abonnement tab",
    "invoice_view": "Invoice online view",
    "pdf_download": "Stored PDF download",
    "invoices_10k": "Factures tab, 10,000-invoice accounts",
    "invoices_10k_oldest": "Factures tab, 10,000 invoices, oldest page",
    "invoices_10": "Factures tab, 10-invoice accounts",
    "invoices_after_import": "Factures tab, after the statement import",
}
PATHS = {
    "baseline": "/bench/baseline",
    "signed_in": "/bench/signed-in",
    "contacts": "/billing/contacts/",
    "invoices": "/billing/invoices/",
    "subscription": "/billing/subscription/",
    "invoice_view": "/billing/invoices/<number>/",
    "pdf_download": "/billing/invoices/<number>/pdf/",
    "invoices_10k": "/billing/invoices/",
    "invoices_10k_oldest": "/billing/invoices/?page=400",
    "invoices_10": "/billing/invoices/",
    "invoices_after_import": "/billing/invoices/",
}


def _results(data) -> dict[tuple[str, int], dict]:
    return {(r["scenario"], r["clients"]): r for r in data["results"]}


def _fmt(value, digits=1):
    return f"{value:,.{digits}f}"


def evaluate(data) -> list[dict]:
    """Each target: what it asks, what was measured, met or not (None: not measured)."""
    res = _results(data)
    base = res.get(("baseline", 16))
    rows = []

    def add(target, measured, met):
        rows.append({"target": target, "measured": measured, "met": met})

    for name in (*TABS, "invoice_view"):
        r = res.get((name, 16))
        suffix = "" if name in TABS else " (not a tab: same target, for information)"
        if r is None or base is None:
            add(f"{LABELS[name]}: ≥ 40 % of baseline req/s at 16 clients{suffix}", "—", None)
        else:
            share = r["rps"] / base["rps"] * 100
            add(
                f"{LABELS[name]}: ≥ 40 % of baseline req/s at 16 clients{suffix}",
                f"{_fmt(r['rps'])} req/s = {share:.0f} % of {_fmt(base['rps'])}",
                share >= 40,
            )
        if r is None:
            add(f"{LABELS[name]}: p99 < 100 ms at 16 clients{suffix}", "—", None)
        else:
            add(
                f"{LABELS[name]}: p99 < 100 ms at 16 clients{suffix}",
                f"{r['p99_ms']:.1f} ms",
                r["p99_ms"] < 100,
            )

    queries = data["queries"]
    worst = max(
        (page["queries"], name) for name, pages in queries.items() for page in pages.values()
    )
    add("≤ 10 SQL queries per page", f"at most {worst[0]} ({LABELS[worst[1]]})", worst[0] <= 10)
    unequal = [
        name
        for name, pages in queries.items()
        if len({page["queries"] for page in pages.values()}) > 1
    ]
    counts = queries["invoices"]
    add(
        "Same number of queries for 10 and 10,000 invoices",
        ", ".join(f"{label}: {page['queries']}" for label, page in counts.items())
        + (f"; differs on {', '.join(unequal)}" if unequal else "; all pages equal"),
        not unequal,
    )

    for scenario, page, clients, metric in (
        ("invoices_10k", "first page", 1, "p50_ms"),
        ("invoices_10k", "first page", 16, "p99_ms"),
        ("invoices_10k_oldest", "oldest page", 1, "p50_ms"),
        ("invoices_10k_oldest", "oldest page", 16, "p99_ms"),
    ):
        big, small = res.get((scenario, clients)), res.get(("invoices_10", clients))
        label = "p50, 1 client" if clients == 1 else "p99, 16 clients"
        target = (
            f"Factures tab, 10,000 invoices ({page}) within 1.5× the 10-invoice latency ({label})"
        )
        if big is None or small is None:
            add(target, "—", None)
        else:
            ratio = big[metric] / small[metric]
            add(
                target,
                f"{big[metric]:.1f} ms vs {small[metric]:.1f} ms = {ratio:.2f}×",
                ratio <= 1.5,
            )

    r = res.get(("pdf_download", 16))
    if r is None or base is None:
        add("Stored PDF download: ≥ 70 % of baseline req/s (16 clients)", "—", None)
    else:
        share = r["rps"] / base["rps"] * 100
        add(
            "Stored PDF download: ≥ 70 % of baseline req/s (16 clients)",
            f"{_fmt(r['rps'])} req/s = {share:.0f} %",
            share >= 70,
        )
    pdf = data["pdf_render"]
    add(
        "One-page invoice PDF rendered in < 150 ms (median of 50)",
        f"{pdf['median_ms']:.0f} ms ({pdf['pages']} page, {pdf['lines']} line)",
        pdf["median_ms"] < 150,
    )
    peak = max(w["peak_mb"] for w in data["memory"])
    add("Memory per worker < 150 MB after the run (peak RSS)", f"{peak:.0f} MB", peak < 150)
    if data.get("statements"):
        from bench import imports

        for row in imports.targets(
            data["statements"],
            res.get(("invoices_after_import", 16)),
            res.get(("invoices", 16)),
        ):
            add(*row)
    return rows


def summary(data) -> list[str]:
    lines = ["Targets:"]
    for row in evaluate(data):
        mark = {True: "met   ", False: "MISSED", None: "n/a   "}[row["met"]]
        lines.append(f"  {mark} {row['target']}: {row['measured']}")
    return lines


def _mark(met):
    return {True: "✅ met", False: "❌ missed", None: "— not measured"}[met]


def _kept_analysis(path: Path) -> str:
    if path.exists():
        match = re.search(
            re.escape(ANALYSIS_START) + r"(.*?)" + re.escape(ANALYSIS_END),
            path.read_text(),
            re.S,
        )
        if match:
            return match.group(1).strip("\n")
    return "_No analysis written yet._"


def _markdown(data, analysis: str) -> str:
    res = _results(data)
    base = {c: res.get(("baseline", c)) for c in (1, 16)}
    m = data["machine"]
    out = []
    w = out.append
    w("# Performance")
    w("")
    w(
        "How fast the portal is at a real customer base's size, measured by `make bench` "
        "(the `bench/` package). Rerun it with one command: `make bench` (about six minutes; "
        "needs PostgreSQL on 127.0.0.1:5432, `wrk` and `libharfbuzz-subset0`, which `make bench` "
        "installs from Debian's packages when they are missing). "
        "This page is regenerated by each run, except the analysis section."
    )
    w("")
    w(f"Last run: **{data['date']}** on {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB.")
    w("")
    w("![Throughput and latency at 16 clients](performance.png)")
    w("")
    w("## Targets")
    w("")
    w("| Target | Measured | |")
    w("|---|---|---|")
    for row in evaluate(data):
        w(f"| {row['target']} | {row['measured']} | {_mark(row['met'])} |")
    w("")
    w("## Throughput and latency")
    w("")
    w(
        f"Each line: {data['seconds']} s of closed-loop load (after a {data['warmup_seconds']} s "
        "warm-up per scenario), each request signed in as the owner of another account."
    )
    w("")
    floor = {c: res.get(("signed_in", c)) for c in (1, 16)}

    def share(r, ref):
        return f"{r['rps'] / ref['rps'] * 100:.0f} %" if ref else "—"

    w(
        "| Scenario | Path | Clients | req/s | % of baseline | % of signed-in floor "
        "| p50 ms | p90 ms | p99 ms | errors |"
    )
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (name, clients), r in res.items():
        w(
            f"| {LABELS[name]} | `{PATHS[name]}` | {clients} | {_fmt(r['rps'])} | "
            f"{share(r, base.get(clients))} | {share(r, floor.get(clients))} | "
            f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} |"
        )
    busy = data.get("background_cpu_percent") or {}
    if busy:
        worst = max(busy.values())
        w("")
        w(
            "Before each scenario the run waits (up to two minutes) for the machine to be "
            "idle, since anything else running is timed as the portal's slowness; the "
            f"busiest it found before a scenario was {worst} % of CPU."
        )
    w("")
    w("## SQL queries per page")
    w("")
    w(
        "Counted in-process with `CaptureQueriesContext` and the test `Client` against the "
        "benchmark database (second request of a session; the first one is the same). "
        "The accounts compared have 50 billing contacts and 50 program managers each."
    )
    w("")
    w("| Page | Account | Queries |")
    w("|---|---|---:|")
    for name, pages in data["queries"].items():
        for label, page in pages.items():
            w(f"| {LABELS[name]} | {label} | {page['queries']} |")
    w("")
    w("<details><summary>The Factures tab's queries (10,000-invoice account)</summary>")
    w("")
    w("```sql")
    for sql in data["queries"]["invoices"]["10,000 invoices"]["sql"]:
        w(sql)
    w("```")
    w("")
    w("</details>")
    w("")
    pdf = data["pdf_render"]
    w("## PDF rendering")
    w("")
    w(
        f"`invoices.pdf.render_pdf` on {pdf['number']} ({pdf['lines']} line, {pdf['pages']} "
        f"page, {pdf['bytes']:,} bytes), 50 times in-process after 3 warm-up renders, nothing "
        f"stored: median **{pdf['median_ms']} ms**, p90 {pdf['p90_ms']} ms, "
        f"min {pdf['min_ms']} ms, max {pdf['max_ms']} ms."
    )
    w("")
    w("## Memory per worker")
    w("")
    w(
        f"{data['workers']} gunicorn sync workers, read from `/proc/<pid>/status` after the "
        "last scenario: VmHWM is the peak resident set since the worker started."
    )
    w("")
    w("| Worker pid | Peak (VmHWM) MB | Now (VmRSS) MB |")
    w("|---:|---:|---:|")
    for worker in data["memory"]:
        w(f"| {worker['pid']} | {worker['peak_mb']:.0f} | {worker['rss_mb']:.0f} |")
    w("")
    w("## Batch runs")
    w("")
    w(
        "The periodic runs (renewals, payment reminders, direct debit pre-notifications) and "
        "the pain.008 export are timed over one and two Celery workers by `bench/batches.py`, "
        "part of `make bench`: docs/performance-batches.md."
    )
    w("")
    w("## Data set")
    w("")
    counts = data["data_set"]
    w(
        f"{counts['accounts']:,} accounts, {counts['users']:,} users "
        f"({counts['program_managers']:,} program managers), "
        f"{counts['billing_contacts']:,} billing contacts, {counts['invoices']:,} issued invoices "
        f"({counts['credit_notes']:,} credit notes) with {counts['invoice_lines']:,} lines, "
        f"{counts.get('audit_events', 0):,} audit events (what the services record: contact "
        "added, invoice or credit note issued, invoice paid). "
        "Ten accounts have 10,000 invoices each, ten have exactly 10; those twenty and 30 "
        "others have 50 billing contacts and 50 program managers; the rest share about 50 "
        "invoices and 0–3 people of each kind. One gapless INV-n numbering in date order over "
        "eight years, seller and buyer snapshots, lines and totals computed by "
        "`invoice_preview` with each account's tax rule (France, EU with and without VAT "
        "number, UK, US, Switzerland; EUR, GBP, USD)."
    )
    w("")
    w(
        "Seeding **bypasses `invoice_issue` on purpose** (`bench/seed.py`): 200,000 issues "
        "through the service would take hours. Rows are written with `COPY`; the 20 PDFs the "
        "download scenario serves are rendered and stored through `invoices.pdf`."
    )
    w("")
    if data.get("statements"):
        from bench import imports

        out.extend(imports.markdown(data["statements"]))
    w("## Method")
    w("")
    w(
        f"- gunicorn {data['workers']} sync workers (cores + 1, measured best here), "
        "`DJANGO_SETTINGS_MODULE=bench.settings` (the production settings plus the baseline "
        "URL, which `billing_portal.urls` never mounts), `DEBUG=0`, `STATIC_MANIFEST=1` after "
        "`collectstatic` into a temporary directory, `SECURE_SSL_REDIRECT=0` and non-secure "
        "cookies (plain HTTP on loopback), `ALLOWED_HOSTS=127.0.0.1`, `LOG_LEVEL=WARNING`, "
        "persistent database connections (`CONN_MAX_AGE=60`, the default)."
    )
    w(
        f"- Load: `wrk` (one thread) on loopback; 1 and 16 concurrent connections, "
        f"{data['seconds']} s each after a {data['warmup_seconds']} s warm-up. A Lua script "
        f"rotates through {data['sample_accounts']} accounts' owners (sessions created in the "
        "database as `login()` stores them, with a CSRF cookie as a browser would have); "
        "every (path, cookie) pair is checked to answer 200 before anything is timed."
    )
    w(
        "- Baseline: `/bench/baseline`, a view returning plain text through the same "
        "middleware stack and the same cookies: the fastest a page can be on this server."
    )
    w(
        "- The load generator, gunicorn and PostgreSQL share the same cores: absolute "
        "numbers are this machine's, the ratios to the baseline are what the targets compare."
    )
    w("")
    w("## Machine")
    w("")
    for key, value in m.items():
        w(f"- {key}: {value}")
    timings = data["timings"]
    if timings.get("seed_s"):
        w(f"- seeding: {timings['seed_s']} s; whole run: {timings['total_s']} s")
    else:
        w(f"- whole run (seed reused): {timings['total_s']} s")
    w("")
    w("## Analysis")
    w("")
    w(ANALYSIS_START)
    w(analysis)
    w(ANALYSIS_END)
    w("")
    return "\n".join(out)


def _chart(data, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = _results(data)
    names = [n for n in LABELS if (n, 16) in res]
    labels = [LABELS[n].replace(", ", ",\n").replace(" tab", "") for n in names]
    rps = [res[(n, 16)]["rps"] for n in names]
    p50 = [res[(n, 16)]["p50_ms"] for n in names]
    p99 = [res[(n, 16)]["p99_ms"] for n in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6), constrained_layout=True)
    y = range(len(names))
    bars = left.barh(y, rps, color=["#888" if n == "baseline" else "#2a6f97" for n in names])
    left.bar_label(bars, [f"{v:,.0f}" for v in rps], padding=3, fontsize=8)
    left.set_xlim(0, max(rps, default=1) * 1.12)  # room for the longest bar's label
    if ("baseline", 16) in res:
        base = res[("baseline", 16)]["rps"]
        left.axvline(base * 0.4, color="#c0392b", ls="--", label="40 % of baseline (tabs)")
        left.axvline(base * 0.7, color="#e67e22", ls=":", label="70 % of baseline (PDF)")
        left.legend(loc="lower right")
    left.set_yticks(list(y), labels)
    left.invert_yaxis()
    left.set_xlabel("requests per second (16 clients)")
    left.set_title("Throughput")
    height = 0.4
    right.barh([i - height / 2 for i in y], p50, height, label="p50", color="#61a5c2")
    right.barh([i + height / 2 for i in y], p99, height, label="p99", color="#014f86")
    right.axvline(100, color="#c0392b", ls="--", label="100 ms (p99 target)")
    right.set_yticks(list(y), labels)
    right.invert_yaxis()
    right.set_xlabel("latency, ms (16 clients)")
    right.set_title("Latency")
    right.legend(loc="upper right")
    fig.suptitle(f"Billing portal, {data['workers']} gunicorn workers, {data['date'][:10]}")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(data, docs: Path) -> None:
    md = docs / "performance.md"
    md.write_text(_markdown(data, _kept_analysis(md)))
    _chart(data, docs / "performance.png")
