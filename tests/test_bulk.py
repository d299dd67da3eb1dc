"""billing_portal.bulk.rows_insert: on PostgreSQL, from COPY_MIN_ROWS rows, the rows are
written by COPY instead of bulk_create's INSERT. The rows must be the same, column for
column: JSON, decimals, dates, times with their zone, nullable columns (empty and not),
auto_now_add dates, foreign keys given as objects; each object must get its id; and the
COPY must be counted as a query like any other (the import's query counts rely on it)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from billing_portal import bulk
from billing_portal.bulk import rows_insert
from emails.models import Email
from invoices.models import InvoiceStatusEvent
from payments.models import Allocation, Payment
from tests.factories import InvoiceFactory, OrganisationFactory, UserFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

NOW = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)  # the night clocks go forward
ROWS = 4


@pytest.fixture
def world(db):
    organisation = OrganisationFactory(name="Festival « Été » & Cie")
    invoices = [InvoiceFactory(organisation=organisation) for _ in range(ROWS)]
    endpoints = [
        WebhookEndpoint.objects.create(url=f"https://hooks.example/{n}", secret=f"whsec_{n}")
        for n in range(2)
    ]
    return {
        "organisation": organisation,
        "user": UserFactory(),
        "invoices": invoices,
        "endpoints": endpoints,
        "payments": [],
        "events": [],
    }


def audit_events(world, tag):
    return [
        AuditEvent(
            organisation=world["organisation"] if n % 2 else None,
            actor=world["user"] if n % 2 else None,
            actor_label="Équipe support" if n % 2 else "",
            action="payment.recorded",
            before={} if n % 2 else {"status": "open", "n": n},
            after={
                "amount": "12.30",
                "invoices": [{"number": f"INV-{n}", "amount": "1.10"}],
                "note": "« guillemets », tab\there, \\ backslash, newline\nend",
                "none": None,
                "flag": True,
            },
            ip_address="2001:db8::1" if n % 2 else None,
        )
        for n in range(ROWS)
    ]


def emails(world, tag):
    return [
        Email(
            organisation=world["organisation"] if n % 2 else None,
            kind="payment_receipt",
            to=f"owner{n}@example.com",
            subject="" if n % 2 else "Reçu de paiement",
            context=None if n % 2 else {"amount": {"__decimal__": "1.10"}, "invoices": []},
            language="fr",
            body_text="",
            attachments=[] if n % 2 else [{"kind": "invoice_pdf", "invoice": 1}],
        )
        for n in range(ROWS)
    ]


def webhook_events(world, tag):
    events = [
        WebhookEvent(msg_id=f"msg_{tag}{n}", type="payment.recorded", payload={"n": n, "x": [1]})
        for n in range(ROWS)
    ]
    return events


def webhook_deliveries(world, tag):
    event = WebhookEvent.objects.create(msg_id=f"msg_d{tag}", type="invoice.paid", payload={})
    return [WebhookDelivery(event=event, endpoint=endpoint) for endpoint in world["endpoints"]]


def payments(world, tag):
    return [
        Payment(
            organisation=world["organisation"],
            amount=Decimal("1234.56") + n,
            currency="EUR",
            received_on=date(2026, 2, 28),
            method=Payment.Method.TRANSFER,
            payer_name="" if n % 2 else "Mme Zoé O'Brien",
            payer_iban="FR7630006000011234567890189",
            bank_reference=f"REF-{n}",
            source=Payment.Source.STATEMENT,
            actor=world["user"] if n % 2 else None,
        )
        for n in range(ROWS)
    ]


def allocations(world, tag):
    payment = Payment.objects.create(
        organisation=world["organisation"],
        amount=Decimal("100.00"),
        currency="EUR",
        received_on=date(2026, 2, 28),
        method=Payment.Method.TRANSFER,
        source=Payment.Source.SUPPORT,
    )
    return [
        Allocation(payment=payment, invoice=invoice, amount=Decimal("0.01"), actor=world["user"])
        for invoice in world["invoices"]
    ]


def status_events(world, tag):
    return [
        InvoiceStatusEvent(
            invoice=invoice,
            code=InvoiceStatusEvent.Code.PAID,
            occurred_at=datetime(2026, 3, 29, 2, 15, tzinfo=UTC),
            recorded_at=NOW,
            source=InvoiceStatusEvent.Source.PORTAL,
            actor=world["user"] if n % 2 else None,
        )
        for n, invoice in enumerate(world["invoices"])
    ]


# model, builder, columns that differ between the two writes by design (the row's own
# unique values, or the parent each write makes for itself).
CASES = {
    "audit events": (AuditEvent, audit_events, set()),
    "outbox emails": (Email, emails, set()),
    "webhook events": (WebhookEvent, webhook_events, {"msg_id"}),
    "webhook deliveries": (WebhookDelivery, webhook_deliveries, {"event_id"}),
    "payments": (Payment, payments, set()),
    "allocations": (Allocation, allocations, {"payment_id"}),
    "history steps": (InvoiceStatusEvent, status_events, set()),
}


def _rows(model, objs, varying):
    rows = list(model.objects.filter(pk__in=[o.pk for o in objs]).order_by("pk").values())
    assert len(rows) == len(objs)
    for obj, row in zip(objs, rows, strict=True):
        # What the object says is what the row holds (its id included).
        assert {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields} == row
        assert not obj._state.adding
    return [{k: v for k, v in row.items() if k != "id" and k not in varying} for row in rows]


@pytest.mark.parametrize("case", list(CASES))
def test_copy_writes_the_rows_bulk_create_writes(world, case, monkeypatch):
    model, build, varying = CASES[case]
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    expected = _rows(model, model.objects.bulk_create(build(world, "a")), varying)

    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    objs = build(world, "b")
    with CaptureQueriesContext(connection) as queries:
        written = rows_insert(model, objs)
    assert written == objs
    assert _rows(model, written, varying) == expected
    assert len(set(o.pk for o in written)) == len(written)
    # The ids, then the COPY: two queries, both seen by Django's query log.
    assert len(queries) == 2
    assert queries[1]["sql"].startswith(f'COPY "{model._meta.db_table}" (')


def test_copy_is_counted_by_execute_wrappers(world, monkeypatch):
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql.split(" ", 1)[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        rows_insert(AuditEvent, audit_events(world, "a"))
    assert seen == ["SELECT", "COPY"]
    assert AuditEvent.objects.filter(action="payment.recorded").count() == ROWS


def test_few_rows_are_one_insert(world):
    """Under COPY_MIN_ROWS, bulk_create: one query, no ids taken first."""
    with CaptureQueriesContext(connection) as queries:
        written = rows_insert(AuditEvent, audit_events(world, "a"))
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    assert all(event.pk for event in written)


def test_nothing_to_insert(world):
    with CaptureQueriesContext(connection) as queries:
        assert rows_insert(AuditEvent, []) == []
    assert len(queries) == 0


def test_a_failed_copy_leaves_nothing(world, monkeypatch):
    """A row the database refuses (a negative payment) fails the whole COPY, nothing
    written, as bulk_create's INSERT."""
    from django.db import IntegrityError, transaction

    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    objs = payments(world, "a")
    objs[-1].amount = Decimal("-1.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(Payment, objs)
    assert not Payment.objects.exists()
