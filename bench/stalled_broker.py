"""`make bench-broker`: a broker that accepts connections and never answers, on the real stack.

    python -m bench.stalled_broker              # 30 + 10 upgrade confirmations, 4 + 2 transfers
    python -m bench.stalled_broker --runs 10 --sparse-runs 5

What it does: creates its own PostgreSQL database (BENCH_PG, default
postgres://postgres@127.0.0.1:5432; BENCH_BROKER_DB_NAME, default billing_bench_broker),
starts a stalled "Redis" (a TCP listener on 127.0.0.1 that accepts and never sends a byte)
and gunicorn (2 sync workers, --timeout 30, DEBUG=0, the production-like settings of
bench/run.py) publishing to it, seeds one account on Professionnel with an owner and 24
billing contacts (the invoice email of an upgrade goes to 25 recipients), then, --runs
times, signs in over HTTP as the owner, asks for the upgrade to Entreprise, reads the link
from the outbox and times the POST of the confirmation link. Between runs the subscription
is put back on Professionnel directly in the database. A few ownership transfers are timed
too.

Two phases, each with its own gunicorn:

- "production": the settings as deployed (PUBLISH_BACKOFF_SECONDS default 30 s). The first
  publish of each worker overruns the budget and opens that worker's breaker: the changes
  that follow within 30 s do not even try the broker (busy traffic);
- "sparse": PUBLISH_BACKOFF_SECONDS=0, as when changes come further apart than the backoff
  (a quiet portal): the breaker never stays open, so every change really waits on the
  stalled broker, for its publishing budget (the worst case of one request).

Then the broker "comes back": the outbox sweep's own selection and send
(emails.services.pending_email_ids / email_send) runs in this process with memorymail, and
each outbox row must be sent exactly once.

Fails (exit 1) when a change answers anything but a redirect, when the confirmation's p99
is 2 s or more, when any timed change takes 2 s or more, when a run did not leave 25
pending invoice emails, or when the sweep does not send each row exactly once. The summary
is printed and written to var/bench/stalled_broker.md; the database is dropped at the end.
"""

import argparse
import http.client
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.run import _environment, _sql
from bench.server import Gunicorn

BASE_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = BASE_DIR / "var" / "bench"
SUMMARY = OUT_DIR / "stalled_broker.md"
GUNICORN_LOG = OUT_DIR / "stalled_broker-gunicorn.log"
WORKERS = 2
GUNICORN_TIMEOUT = 30  # gunicorn's default, which docker-compose.yml and the Dockerfile run
LIMIT_SECONDS = 2.0
CONTACTS = 24  # + the owner: 25 recipients of each invoice email
PASSWORD = "stalled-broker-bench"  # noqa: S105 (a throw-away database)
OWNER_EMAIL = "owner@stalled-broker.example"
MANAGER_EMAILS = ("manager1@stalled-broker.example", "manager2@stalled-broker.example")
LINK = re.compile(r"/confirm/([A-Za-z0-9_-]+)/")


def _args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.stalled_broker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=30, help="upgrade confirmations timed")
    parser.add_argument(
        "--sparse-runs",
        type=int,
        default=10,
        help="confirmations timed with the breaker off (PUBLISH_BACKOFF_SECONDS=0); 0: skip",
    )
    parser.add_argument(
        "--transfers", type=int, default=4, help="ownership transfers timed (even: back home)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 500:
        parser.error("--runs must be between 1 and 500")
    if not 0 <= args.sparse_runs <= 500:
        parser.error("--sparse-runs must be between 0 and 500")
    if not 0 <= args.transfers <= 50 or args.transfers % 2:
        parser.error("--transfers must be even (ownership goes back), between 0 and 50")
    return args


# --- The stalled broker -----------------------------------------------------------------


class StalledBroker:
    """A TCP listener that accepts every connection and never sends a byte: a Redis whose
    host froze, or a firewall dropping the replies, as a client sees it (the same as
    tests/test_broker_outage.py's StalledServer)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="stalled broker", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


# --- A minimal browser (http.client: one connection per request, as sync workers close) ---


@dataclass
class Answer:
    status: int
    location: str
    body: bytes
    seconds: float


class Browser:
    def __init__(self, base_url: str, csrf_cookie: str):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.csrf_cookie = csrf_cookie
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict | None = None) -> Answer:
        headers = {"Host": f"{self.host}:{self.port}", "Accept-Language": "fr"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=GUNICORN_TIMEOUT + 5)
        try:
            started = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            content = response.read()
            seconds = time.perf_counter() - started
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Answer(response.status, response.getheader("Location", ""), content, seconds)

    def post(self, path: str, form: dict | None = None) -> Answer:
        token = self.cookies.get(self.csrf_cookie)
        if not token:
            raise RuntimeError(f"no CSRF cookie before POST {path}")
        return self.request("POST", path, {"csrfmiddlewaretoken": token, **(form or {})})

    def sign_in(self, email: str) -> Answer:
        page = self.request("GET", "/accounts/login/")
        if page.status != 200:
            raise RuntimeError(f"GET /accounts/login/ answered {page.status}")
        answer = self.post("/accounts/login/", {"username": email, "password": PASSWORD})
        if answer.status != 302 or "/accounts/login/" in answer.location:
            raise RuntimeError(f"sign-in as {email} answered {answer.status} {answer.location}")
        return answer


# --- Seeding and checks (Django ORM, in this process, on the same database) --------------


@dataclass
class Seeded:
    organisation_id: int
    owner_id: int
    manager_membership_ids: list[int]
    membership_ids: dict[str, int] = field(default_factory=dict)  # email -> membership id


def _seed() -> Seeded:
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import BillingContact, Membership, Organisation, User
    from subscriptions.demo import seed_plans
    from subscriptions.models import Subscription
    from subscriptions.periods import one_year_after

    with transaction.atomic():
        plans = seed_plans()
        organisation = Organisation.objects.create(
            name="Festival du Courtier Muet",
            address_line1="14 quai Saint-Antoine",
            postal_code="69002",
            city="Lyon",
            country="FR",
            vat_number="FR44732829320",
            currency="EUR",
            language="fr",
        )
        memberships = {}
        for email, role in (
            (OWNER_EMAIL, Membership.Role.OWNER),
            (MANAGER_EMAILS[0], Membership.Role.MANAGER),
            (MANAGER_EMAILS[1], Membership.Role.MANAGER),
        ):
            user = User.objects.create_user(
                email=email, password=PASSWORD, first_name="Camille", last_name="Martin"
            )
            memberships[email] = Membership.objects.create(
                organisation=organisation, user=user, role=role
            )
        BillingContact.objects.bulk_create(
            BillingContact(
                organisation=organisation,
                first_name="Compta",
                last_name=f"N°{n}",
                email=f"compta{n}@stalled-broker.example",
            )
            for n in range(CONTACTS)
        )
        start = timezone.localdate() - timedelta(days=100)
        Subscription.objects.create(
            organisation=organisation,
            plan=plans["professionnel"],
            period_start=start,
            period_end=one_year_after(start),
        )
    return Seeded(
        organisation_id=organisation.pk,
        owner_id=memberships[OWNER_EMAIL].user_id,
        manager_membership_ids=[memberships[e].pk for e in MANAGER_EMAILS],
        membership_ids={email: m.pk for email, m in memberships.items()},
    )


def _back_to_professionnel(organisation_id: int) -> None:
    """The harness's shortcut: the next upgrade must be possible (not a service call)."""
    from subscriptions.models import Plan, Subscription

    updated = Subscription.objects.filter(organisation_id=organisation_id).update(
        plan=Plan.objects.get(code="professionnel"), next_plan=None
    )
    if updated != 1:
        raise RuntimeError("no subscription to put back on Professionnel")


def _last_pk(model) -> int:
    last = model.objects.order_by("-pk").values_list("pk", flat=True).first()
    return last or 0


def _percentile(values: list[float], p: float) -> float:
    """Nearest rank: with 30 values, p99 is the slowest one."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(_percentile(values, 50) * 1000, 1),
        "p99_ms": round(_percentile(values, 99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


# --- The measured scenario ---------------------------------------------------------------


@dataclass
class Results:
    confirm: list[float] = field(default_factory=list)
    confirm_statuses: list[int] = field(default_factory=list)
    request: list[float] = field(default_factory=list)
    transfer: list[float] = field(default_factory=list)
    sign_in: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    invoice_rows_per_run: list[int] = field(default_factory=list)


def _upgrade_runs(base_url: str, seeded: Seeded, runs: int, results: Results) -> None:
    from django.conf import settings
    from django.urls import reverse

    from emails.models import Email
    from invoices.models import Invoice
    from subscriptions.models import Subscription

    request_path = reverse("portal:upgrade_request")
    for run in range(1, runs + 1):
        _back_to_professionnel(seeded.organisation_id)
        email_mark, invoice_mark = _last_pk(Email), _last_pk(Invoice)
        browser = Browser(base_url, settings.CSRF_COOKIE_NAME)
        results.sign_in.append(browser.sign_in(OWNER_EMAIL).seconds)

        asked = browser.post(request_path, {"plan": "entreprise"})
        results.request.append(asked.seconds)
        if asked.status != 302:
            results.problems.append(f"run {run}: upgrade request answered {asked.status}")
            continue
        link_email = (
            Email.objects.filter(kind="upgrade_request", pk__gt=email_mark).order_by("-pk").first()
        )
        match = link_email and LINK.search(link_email.body_text)
        if not match:
            results.problems.append(f"run {run}: no confirmation link in the outbox")
            continue
        confirm_path = reverse("subscription_confirm", args=[match.group(1)])

        confirmed = browser.post(confirm_path)  # the measured request
        results.confirm.append(confirmed.seconds)
        results.confirm_statuses.append(confirmed.status)
        if confirmed.status != 302 or not confirmed.location.endswith(confirm_path):
            results.problems.append(
                f"run {run}: confirmation answered {confirmed.status} {confirmed.location!r}"
            )
            continue

        plan = Subscription.objects.get(organisation_id=seeded.organisation_id).plan.code
        invoices = list(Invoice.objects.filter(pk__gt=invoice_mark).values_list("pk", flat=True))
        rows = Email.objects.filter(kind="invoice_issued", pk__gt=email_mark)
        pending = rows.filter(status=Email.Status.PENDING)
        recipients = set(pending.values_list("to", flat=True))
        results.invoice_rows_per_run.append(pending.count())
        if plan != "entreprise" or len(invoices) != 1:
            results.problems.append(f"run {run}: plan {plan}, {len(invoices)} new invoices")
        if rows.count() != CONTACTS + 1 or len(recipients) != CONTACTS + 1:
            results.problems.append(
                f"run {run}: {rows.count()} invoice_issued rows, {len(recipients)} pending "
                f"recipients (expected {CONTACTS + 1} pending)"
            )
        print(
            f"  run {run:>3}: sign-in {results.sign_in[-1] * 1000:6.0f} ms  "
            f"request {asked.seconds * 1000:6.0f} ms  confirm {confirmed.seconds * 1000:6.0f} ms"
            f"  -> {confirmed.status}, {pending.count()} pending invoice emails"
        )


def _transfers(base_url: str, seeded: Seeded, count: int, results: Results) -> None:
    from django.conf import settings
    from django.urls import reverse

    from accounts.models import Membership

    path = reverse("portal:owner_change")
    owner, manager = OWNER_EMAIL, MANAGER_EMAILS[0]
    for n in range(1, count + 1):
        browser = Browser(base_url, settings.CSRF_COOKIE_NAME)
        browser.sign_in(owner)
        answer = browser.post(path, {"new_owner": seeded.membership_ids[manager]})
        results.transfer.append(answer.seconds)
        now_owner = Membership.objects.get(
            organisation_id=seeded.organisation_id, role=Membership.Role.OWNER
        ).user.email
        print(
            f"  transfer {n}: {owner} -> {manager}  {answer.seconds * 1000:6.0f} ms"
            f"  -> {answer.status}"
        )
        if answer.status != 302 or now_owner != manager:
            results.problems.append(
                f"transfer {n}: answered {answer.status} {answer.location!r}; owner {now_owner}"
            )
            return
        owner, manager = manager, owner


def _sweep() -> dict:
    """The broker is back: the sweep's selection and send, in this process (memorymail).
    Each row must be sent once; a second pass must send nothing."""
    from django.core import mail

    from emails import services
    from emails.models import Email

    mail.outbox = []
    rows = Email.objects.count()
    pending_before = Email.objects.filter(status=Email.Status.PENDING).count()
    started = time.monotonic()
    sent = errors = rounds = 0
    while rounds < 20:
        ids = services.pending_email_ids(older_than=timedelta(0))
        if not ids:
            break
        rounds += 1
        for pk in ids:
            try:
                sent += bool(services.email_send(email_id=pk))
            except Exception as exc:  # noqa: BLE001 - counted, reported
                errors += 1
                print(f"  email {pk} not sent: {type(exc).__name__}: {exc}")
    resent = sum(
        bool(services.email_send(email_id=pk)) for pk in Email.objects.values_list("pk", flat=True)
    )
    message_ids = [m.extra_headers.get("Message-ID") for m in mail.outbox]
    expected_ids = {
        services._message_id(email) for email in Email.objects.filter(status=Email.Status.SENT)
    }
    return {
        "rows": rows,
        "pending_before": pending_before,
        "sent": sent,
        "errors": errors,
        "resent_on_second_pass": resent,
        "outbox_messages": len(mail.outbox),
        "duplicate_messages": len(message_ids) - len(set(message_ids)),
        "every_row_once": sorted(message_ids) == sorted(expected_ids),
        "still_pending": Email.objects.filter(status=Email.Status.PENDING).count(),
        "failed": Email.objects.filter(status=Email.Status.FAILED).count(),
        "seconds": round(time.monotonic() - started, 1),
    }


def _publish_warnings(log_path: Path) -> dict:
    """What the workers logged about publishing (billing_portal.queue, JSON lines)."""
    overran = failed = spent = skipped = other = 0
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if "could not publish task" in message:
            if "no answer within budget" in message:
                overran += 1
            else:
                failed += 1
        elif "publishing budget spent" in message:
            spent += 1
        elif "broker recently failed" in message:
            skipped += 1
        elif record.get("level") in ("ERROR", "CRITICAL"):
            other += 1
    return {
        "overran_budget": overran,
        "failed": failed,
        "budget_spent": spent,  # logged at INFO: 0 unless LOG_LEVEL=INFO
        "breaker_skipped": skipped,  # idem
        "errors_logged": other,
    }


@dataclass
class Phase:
    name: str
    description: str
    env: dict[str, str]
    runs: int
    transfers: int
    log_path: Path = GUNICORN_LOG
    results: Results = field(default_factory=Results)
    connections: int = 0
    log: dict = field(default_factory=dict)
    backoff_s: str = ""


def _run_phase(phase: Phase, seeded: Seeded, server_env: dict, broker: StalledBroker) -> None:
    before = len(broker.accepted)
    env = {**server_env, **phase.env}
    phase.backoff_s = env.get("PUBLISH_BACKOFF_SECONDS", "30 (default)")
    server = Gunicorn(workers=WORKERS, env=env, log_path=phase.log_path)
    server.start()
    try:
        print(
            f"[{phase.name}] gunicorn: {WORKERS} sync workers on {server.base_url}, "
            f"broker {broker.url}, PUBLISH_BACKOFF_SECONDS={phase.backoff_s}"
        )
        print(f"[{phase.name}] upgrade confirmations ({phase.runs} runs)")
        _upgrade_runs(server.base_url, seeded, phase.runs, phase.results)
        if phase.transfers:
            print(f"[{phase.name}] ownership transfers ({phase.transfers})")
            _transfers(server.base_url, seeded, phase.transfers, phase.results)
    finally:
        server.stop()
    phase.connections = len(broker.accepted) - before
    phase.log = _publish_warnings(phase.log_path)


def _phase_problems(phase: Phase) -> list[str]:
    results = phase.results
    problems = [f"[{phase.name}] {p}" for p in results.problems]
    confirm = _stats(results.confirm)
    if len(results.confirm) != phase.runs:
        problems.append(f"[{phase.name}] {len(results.confirm)} confirmations of {phase.runs}")
    if confirm["n"] and confirm["p99_ms"] >= LIMIT_SECONDS * 1000:
        problems.append(
            f"[{phase.name}] confirmation p99 {confirm['p99_ms']} ms >= {LIMIT_SECONDS} s"
        )
    for name, values in (
        ("confirmation", results.confirm),
        ("upgrade request", results.request),
        ("transfer", results.transfer),
    ):
        slow = [round(v, 2) for v in values if v >= LIMIT_SECONDS]
        if slow:
            problems.append(f"[{phase.name}] {name}: {len(slow)} took >= {LIMIT_SECONDS} s: {slow}")
    rows = results.invoice_rows_per_run
    if len(rows) != phase.runs or any(n != CONTACTS + 1 for n in rows):
        problems.append(f"[{phase.name}] pending invoice emails per run: {rows}")
    return problems


def _summary(data: dict, phases: list[Phase]) -> list[str]:
    sweep = data["sweep"]

    def row(label, values):
        stats = _stats(values)
        if not stats["n"]:
            return f"| {label} | 0 | - | - | - |"
        return (
            f"| {label} | {stats['n']} | {stats['p50_ms']} | {stats['p99_ms']} "
            f"| {stats['max_ms']} |"
        )

    lines = [
        "# Stalled broker: upgrade confirmation on the real stack",
        "",
        f"- Date: {data['date']}; {data['total_s']} s end to end; "
        f"verdict: **{'PASS' if data['passed'] else 'FAIL'}** (limit: every change < "
        f"{LIMIT_SECONDS:g} s, confirmation p99 < {LIMIT_SECONDS:g} s, every answer a redirect)",
        f"- Stack: gunicorn {WORKERS} sync workers (--timeout {GUNICORN_TIMEOUT}), DEBUG=0, "
        f"bench/run.py's production-like settings, PostgreSQL database {data['database']}, "
        "EMAIL_URL=memorymail://, requests over HTTP on loopback (http.client)",
        "- Broker: CELERY_BROKER_URL=redis://127.0.0.1:<port>/0, a listener that accepts and "
        f"never answers; PUBLISH_BUDGET_SECONDS={data['budget_s']}",
        f"- Account: one owner + {CONTACTS} billing contacts on Professionnel. Each run signs in, "
        "POSTs the upgrade request (Entreprise), reads the link from the outbox, then POSTs the "
        "confirmation link: the measured request, which changes the plan, issues the prorated "
        f"invoice and queues its email to {CONTACTS + 1} recipients (3 publishes: the PDF task, "
        "2 email batches). The subscription is put back on Professionnel in the database "
        "between runs.",
        "",
    ]
    for phase in phases:
        r = phase.results
        log = phase.log
        lines += [
            f"## Phase {phase.name}: {phase.description}",
            "",
            "| POST over HTTP | n | p50 ms | p99 ms | max ms |",
            "| --- | --- | --- | --- | --- |",
            row("upgrade confirmation (measured)", r.confirm),
            row("upgrade request", r.request),
            row("ownership transfer", r.transfer),
            row("sign-in (password hashing; publishes nothing)", r.sign_in),
            "",
            f"- PUBLISH_BACKOFF_SECONDS={phase.backoff_s}; connections the stalled broker "
            f"accepted: {phase.connections}; publishes that overran the budget (workers' log): "
            f"{log['overran_budget']}, failed: {log['failed']}, errors logged: "
            f"{log['errors_logged']}",
            f"- Confirmations answered 302: {r.confirm_statuses.count(302)}/{phase.runs}"
            f"{'' if set(r.confirm_statuses) <= {302} else f' (all: {r.confirm_statuses})'}; "
            "pending invoice_issued rows per run: "
            f"{', '.join(str(n) for n in sorted(set(r.invoice_rows_per_run))) or 'none'}",
            "",
        ]
    lines += [
        "## Broker back",
        "",
        f"The sweep's selection and send (emails.services.pending_email_ids / email_send), "
        f"in-process with memorymail: {sweep['pending_before']} pending of {sweep['rows']} "
        f"outbox rows; {sweep['sent']} sent in {sweep['seconds']} s, {sweep['errors']} errors, "
        f"{sweep['resent_on_second_pass']} sent again on a second pass, "
        f"{sweep['duplicate_messages']} duplicate messages, each row exactly once: "
        f"{sweep['every_row_once']}; still pending {sweep['still_pending']}, "
        f"failed {sweep['failed']}.",
    ]
    if data["problems"]:
        lines += ["", "## Problems", "", *[f"- {p}" for p in data["problems"]]]
    return lines


def _sweep_problems(sweep: dict) -> list[str]:
    if (
        sweep["every_row_once"]
        and sweep["errors"] == 0
        and sweep["resent_on_second_pass"] == 0
        and sweep["duplicate_messages"] == 0
        and sweep["still_pending"] == 0
        and sweep["failed"] == 0
        and sweep["sent"] == sweep["pending_before"]
    ):
        return []
    return [f"the sweep did not send each row exactly once: {sweep}"]


def main(argv=None) -> int:
    args = _args(argv)
    started = time.monotonic()
    admin_url = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    db_name = os.environ.get("BENCH_BROKER_DB_NAME", "billing_bench_broker")
    workdir = Path(tempfile.mkdtemp(prefix="billing-bench-broker-"))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    # This process (seeding, checks, the sweep) has no broker: it never publishes.
    env = {**os.environ, **_environment(workdir, f"{admin_url}/{db_name}")}
    os.environ.update(env)
    broker = StalledBroker()
    server_env = {
        **env,
        "CELERY_BROKER_URL": broker.url,
        "GUNICORN_CMD_ARGS": f"--timeout {GUNICORN_TIMEOUT}",
    }
    phases = [
        Phase(
            "production",
            "the deployed settings (a worker's breaker stays open 30 s after a failed publish)",
            env={},
            runs=args.runs,
            transfers=args.transfers,
        )
    ]
    if args.sparse_runs:
        phases.append(
            Phase(
                "sparse",
                "PUBLISH_BACKOFF_SECONDS=0 (changes further apart than the backoff: every one "
                "waits on the stalled broker for its budget)",
                env={"PUBLISH_BACKOFF_SECONDS": "0"},
                runs=args.sparse_runs,
                transfers=min(args.transfers, 2),
                log_path=OUT_DIR / "stalled_broker-gunicorn-sparse.log",
            )
        )
    try:
        print(f"Creating database {db_name}; stalled broker on 127.0.0.1:{broker.port}")
        _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        _sql(f"{admin_url}/postgres", f'CREATE DATABASE "{db_name}"')
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        call_command("collectstatic", "--noinput", verbosity=0)
        seeded = _seed()

        for phase in phases:
            _run_phase(phase, seeded, server_env, broker)

        print("Broker back: sweeping the outbox in-process")
        sweep = _sweep()

        problems = [p for phase in phases for p in _phase_problems(phase)]
        problems += _sweep_problems(sweep)
        data = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": db_name,
            "budget_s": settings.PUBLISH_BUDGET_SECONDS,
            "sweep": sweep,
            "problems": problems,
            "passed": not problems,
            "total_s": round(time.monotonic() - started, 1),
        }
        lines = _summary(data, phases)
        SUMMARY.write_text("\n".join(lines) + "\n")
        print()
        print("\n".join(lines))
        logs = ", ".join(str(phase.log_path.relative_to(BASE_DIR)) for phase in phases)
        print(f"\nWrote {SUMMARY.relative_to(BASE_DIR)} (workers' logs: {logs})")
        return 0 if data["passed"] else 1
    finally:
        broker.close()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 (Django may not be set up yet)
            pass
        _sql(f"{admin_url}/postgres", f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"Dropped {db_name}; done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
