"""A statement's credits are recorded in bulk (payments_record, a chunk of credits at a
time) with exactly what recording them one after the other with payment_record writes:
the same payments, allocations (an overpayment going on to the oldest open invoices, then
to the credit balance), invoice amounts, statuses and history, audit events and receipts.

Each test imports the same file twice: one credit at a time through payment_record, rolled
back, then in bulk; and compares every row the import wrote, keyed by what does not depend
on the order rows were inserted in (bank references, invoice numbers), not by primary keys.
Chunks of a single credit and of two, and accounts' open invoices read one at a time, make
the bulk path cross its chunk and page boundaries in the middle of an account's credits."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEvent
from emails.models import Email
from emails.services import email_content
from invoices.models import Invoice, InvoiceStatusEvent
from invoices.services import credit_note_issue
from payments.models import (
    Allocation,
    AllocationReversal,
    BankEntry,
    BankStatement,
    Collection,
    Payment,
    Refund,
)
from payments.services import _ledger, payment_record
from payments.services import statements as statement_services

from . import direct_debit as dd
from .conftest import LYON_IBAN, invoice, read
from .statements import credit, statement

pytestmark = pytest.mark.django_db

# (credits a chunk, open invoices read a page): the import's own, and small ones.
SIZES = [(statement_services.CHUNK, _ledger.OTHERS_PAGE), (2, 1), (1, 20)]


class _Undo(Exception):
    pass


def one_by_one(*, payments, actor=None, by_support=False, ip=None):
    """What statement_import did before chunks: payment_record for each credit."""
    return [
        payment_record(
            organisation=received.organisation,
            amount=received.amount,
            currency=received.currency,
            received_on=received.received_on,
            method=received.method,
            payer_name=received.payer_name,
            payer_iban=received.payer_iban,
            bank_reference=received.bank_reference,
            note=received.note,
            invoices=received.invoices,
            bank_entry=received.bank_entry,
            actor=actor,
            by_support=by_support,
            ip=ip,
        )
        for received in payments
    ]


def _when(moment):
    # A step dated today is dated now: the moment of each run, not compared.
    return "now" if timezone.localtime(moment).date() == timezone.localdate() else moment


def _email_row(e: Email) -> tuple:
    content = email_content(e)
    return (
        e.organisation_id,
        e.kind,
        e.to,
        content["from_email"],
        content["subject"],
        content["body_text"],
        content["body_html"],
        e.attachments,
        e.reply_to,
        e.redact_after_send,
        e.context,
        e.language,
    )


def rows() -> dict:
    """Every row an import writes, without primary keys or insertion times."""
    payment_key = {
        payment.pk: payment.bank_entry.entry_key if payment.bank_entry else f"#{index}"
        for index, payment in enumerate(Payment.objects.select_related("bank_entry").order_by("pk"))
    }

    def after(event):
        values = dict(event.after)
        if "payment" in values:
            values["payment"] = payment_key[values["payment"]]
        return values

    return {
        "payments": [
            (
                payment_key[p.pk],
                p.organisation.name,
                p.amount,
                p.currency,
                p.received_on,
                p.method,
                p.payer_name,
                p.payer_iban,
                p.bank_reference,
                p.note,
                p.source,
                p.actor_id,
            )
            for p in Payment.objects.select_related("organisation").order_by("pk")
        ],
        "allocations": [
            (
                payment_key[a.payment_id],
                a.invoice.number if a.invoice else None,
                a.refund.reference if a.refund else None,
                a.amount,
                a.actor_id,
                a.reversal.reason if hasattr(a, "reversal") else None,
            )
            for a in Allocation.objects.select_related("invoice", "refund").order_by("pk")
        ],
        "invoices": list(
            Invoice.objects.order_by("number").values_list(
                "number", "status", "amount_paid", "paid_on"
            )
        ),
        "history": sorted(
            (e.invoice.number, e.code, _when(e.occurred_at), e.source, e.actor_id)
            for e in InvoiceStatusEvent.objects.select_related("invoice").order_by("pk")
        ),
        # By action, each in the order it was written.
        "audit": [
            (e.action, e.organisation_id, e.actor_label, e.before, after(e), e.ip_address)
            for e in AuditEvent.objects.order_by("action", "pk")
        ],
        # What each email says: rendered from its context when it is rendered at send.
        "emails": [_email_row(e) for e in Email.objects.order_by("pk")],
        "entries": list(
            BankEntry.objects.order_by("entry_key").values_list(
                "entry_key", "status", "rule", "queue_reason", "queue_detail"
            )
        ),
        "statements": list(
            BankStatement.objects.values_list(
                "credits", "returns", "new_entries", "matched", "queued", "ignored"
            )
        ),
        "collections": [
            (c.end_to_end_id, c.status, payment_key.get(c.payment_id))
            for c in Collection.objects.order_by("end_to_end_id")
        ],
        "refunds": list(
            Refund.objects.order_by("pk").values_list(
                "organisation_id", "amount", "currency", "refunded_on", "reference", "reason"
            )
        ),
        "reversals": list(
            AllocationReversal.objects.order_by("pk").values_list("reason", "actor_id")
        ),
    }


def both_ways(monkeypatch, data: bytes, actor, *, chunk: int, page: int) -> tuple[dict, dict]:
    """The rows of importing `data` one credit at a time (rolled back), then in bulk."""
    try:
        with transaction.atomic():
            with monkeypatch.context() as patch:
                patch.setattr(statement_services, "payments_record", one_by_one)
                statement_services.statement_import(data=data, file_name="s.xml", actor=actor)
            single = rows()
            raise _Undo
    except _Undo:
        pass
    with monkeypatch.context() as patch:
        patch.setattr(statement_services, "CHUNK", chunk)
        patch.setattr(_ledger, "OTHERS_PAGE", page)
        statement_services.statement_import(data=data, file_name="s.xml", actor=actor)
    return single, rows()


def assert_same(single: dict, bulk: dict) -> None:
    for table in single:
        assert bulk[table] == single[table], table


@pytest.fixture
def lyon_many(owner, lyon):
    """Lyon owes more: an old large invoice (where overpayments go on to), one partly
    credited by a credit note, one already paid (by its IBAN: rule 3 knows the payer)."""
    account = owner.organisation
    extra = {
        "INV-10670": invoice(account, "INV-10670", "900.00", issue_date=date(2025, 11, 2)),
        "INV-10671": invoice(account, "INV-10671", "300.00", issue_date=date(2025, 11, 3)),
        "INV-10684": invoice(account, "INV-10684", "1100.00", issue_date=date(2026, 2, 1)),
        "INV-10685": invoice(account, "INV-10685", "250.00", issue_date=date(2026, 2, 3)),
        "INV-10600": invoice(account, "INV-10600", "100.00", issue_date=date(2025, 12, 1)),
    }
    credit_note_issue(
        invoice=extra["INV-10684"], reason="Remise", amount=Decimal("400.00"), actor=None
    )
    payment_record(
        organisation=account,
        amount=Decimal("100.00"),
        currency="EUR",
        received_on=date(2025, 12, 20),
        payer_iban=LYON_IBAN,
        invoices=[extra["INV-10600"]],
    )
    return {**lyon, **extra}


def ref(number: str) -> str:
    from invoices.references import rf_reference

    return rf_reference(number)


def mixed_statement() -> bytes:
    """Full, partial, over-, duplicate and unmatched credits of two accounts, several on
    one invoice, one naming an invoice an earlier credit of the file paid."""
    return statement(
        # Full, by reference and by number.
        credit("1200.00", reference=ref("INV-10681"), iban=LYON_IBAN, bank_ref="M-01"),
        credit("1200.00", text="Facture INV-10680", bank_ref="M-02"),
        # Partial twice, then the rest and more: INV-10682 paid by the third, the rest
        # goes on to Lyon's oldest open invoices (INV-10670, INV-10671...).
        credit("2000.00", reference=ref("INV-10682"), bank_ref="M-03"),
        credit("1500.00", reference=ref("INV-10682"), bank_ref="M-04"),
        credit("4900.00", reference=ref("INV-10682"), bank_ref="M-05"),
        # The credit note took 400,00 off INV-10684: 700,00 settle it.
        credit("700.00", text="INV-10684", bank_ref="M-06"),
        # Names INV-10680, paid by M-02 above: passed over, the money goes to the oldest
        # open invoices, then to the credit balance.
        credit("5000.00", text="INV-10680 encore", bank_ref="M-07"),
        # The same entry twice: recorded once.
        credit("250.00", reference=ref("INV-10685"), bank_ref="M-08"),
        credit("250.00", reference=ref("INV-10685"), bank_ref="M-08"),
        # Rule 3, the known payer and the exact amount of one open invoice.
        credit("600.00", iban=LYON_IBAN, text="VIREMENT", bank_ref="M-09"),
        # Nordic: an overpayment to its other invoice, then its credit.
        credit("650.00", reference=ref("INV-10690"), bank_ref="M-10"),
        credit("900.00", text="INV-10691", bank_ref="M-11", booked="2026-02-12"),
        # Unmatched.
        credit("123.45", text="LOYER", payer="M. DUPONT", bank_ref="M-12"),
        credit("99.00", reference="RF18539007547034", bank_ref="M-13"),
    )


@pytest.mark.parametrize(("chunk", "page"), SIZES)
def test_a_mixed_statement_writes_the_same_rows_in_bulk(
    monkeypatch, owner, other_owner, lyon_many, nordic, support_user, chunk, page
):
    single, bulk = both_ways(monkeypatch, mixed_statement(), support_user, chunk=chunk, page=page)
    assert_same(single, bulk)
    # What was compared is what the file says: not an empty import.
    invoices = dict((row[0], row[1:]) for row in bulk["invoices"])
    assert invoices["INV-10682"][0] == invoices["INV-10670"][0] == "paid"
    assert invoices["INV-10684"][:2] == ("paid", Decimal("700.00"))
    assert invoices["INV-10691"][0] == "paid"
    assert [row[1] for row in bulk["entries"]].count("matched") == 11
    assert len(bulk["payments"]) == 1 + 11  # the fixture's, and the file's matched credits
    receipts = [row for row in bulk["emails"] if row[1] == "payment_received"]
    assert len(receipts) == 1 + 11
    assert any("reste à payer" in row[5] for row in receipts)  # the partial ones
    assert any("Avoir disponible" in row[5] for row in receipts)  # the overpayments


@pytest.mark.parametrize(("chunk", "page"), SIZES)
def test_the_sample_files_write_the_same_rows_in_bulk(
    monkeypatch, owner, other_owner, lyon, nordic, support_user, chunk, page
):
    for name in ("camt053_v08.xml", "camt054_v08.xml", "camt053_v02.xml"):
        single, bulk = both_ways(monkeypatch, read(name), support_user, chunk=chunk, page=page)
        assert_same(single, bulk)
        assert bulk["payments"], name


@pytest.mark.parametrize(("chunk", "page"), SIZES)
def test_collections_and_returns_among_transfers_write_the_same_rows_in_bulk(
    monkeypatch, owner, other_owner, nordic, support_user, chunk, page
):
    """Direct debits booked and returned in the file, among transfers of the same account
    before and after them in the order of import: each collection is recorded in its
    place."""
    account = owner.organisation
    debit = dd.mandate(account)
    sent = {
        number: dd.collection(invoice(account, number, total), debit, status="exported")
        for number, total in [("INV-10680", "1200.00"), ("INV-10682", "7200.00")]
    }
    transfers = {
        number: invoice(account, number, total)
        for number, total in [("INV-10683", "600.00"), ("INV-10686", "300.00")]
    }
    paid_before = dd.collection(invoice(account, "INV-10687", "450.00"), debit, status="exported")
    dd_today = timezone.localdate()
    data = dd.statement(
        dd.entry(
            "700.00",
            dd.transaction("NOTPROVIDED", "700.00", text="INV-10683"),
            bank_ref="T-1",
            family="RCDT",
            sub_family="ESCT",
        ),
        dd.collected(sent["INV-10680"], sent["INV-10682"]),
        dd.collected(paid_before, bank_ref="DD-BATCH-2"),
        dd.returned(paid_before, "AM04"),
        dd.entry(
            "300.00",
            dd.transaction("NOTPROVIDED", "300.00", text="INV-10686"),
            bank_ref="T-2",
            family="RCDT",
            sub_family="ESCT",
            booked=dd_today,
        ),
        dd.entry(
            "650.00",
            dd.transaction("NOTPROVIDED", "650.00", text="INV-10690"),
            bank_ref="T-3",
            family="RCDT",
            sub_family="ESCT",
        ),
    )
    single, bulk = both_ways(monkeypatch, data, support_user, chunk=chunk, page=page)
    assert_same(single, bulk)
    assert {row[1] for row in bulk["collections"]} == {"paid", "returned"}
    assert bulk["refunds"] and bulk["reversals"]
    assert len([row for row in bulk["payments"] if row[10] == "statement"]) >= 5
    assert transfers  # paid by T-1 and T-2, compared above


def test_importing_twice_records_nothing_twice(owner, other_owner, lyon_many, nordic):
    statement_services.statement_import(data=mixed_statement(), file_name="a.xml", actor=None)
    before = rows()
    again = statement_services.statement_import(
        data=mixed_statement(), file_name="b.xml", actor=None
    )
    assert (again.new_entries, again.matched) == (0, 0)
    after = rows()
    assert after["payments"] == before["payments"]
    assert after["allocations"] == before["allocations"]
    assert after["invoices"] == before["invoices"]
    assert after["emails"] == before["emails"]
