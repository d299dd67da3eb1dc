"""A credit note on an invoice that payments settled: what it credits beyond what was still
due is money already paid, and becomes the account's credit balance (« avoir disponible »),
which the next invoice uses or support refunds. One notion of money owed back."""

import importlib
import re
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from emails.models import Email
from invoices import hooks
from invoices.models import Invoice, InvoiceStatusEvent
from invoices.services import credit_note_issue, invoice_issue, invoice_mark_paid
from invoices.totals import LineSpec
from payments.models import Allocation, AllocationReversal, Payment, Refund
from payments.selectors import credit_balances
from payments.services import allocation_reverse, credit_return, payment_record, refund_record

from .conftest import fresh

PAID_ON = date(2026, 2, 10)
EUR = "EUR"


def pay(organisation, amount, invoices=(), **extra):
    return payment_record(
        organisation=organisation,
        amount=Decimal(amount),
        currency=EUR,
        received_on=extra.pop("received_on", PAID_ON),
        invoices=list(invoices),
        **extra,
    )


def credit(invoice, actor=None, **part):
    return credit_note_issue(
        invoice=fresh(invoice), actor=actor, reason="Geste commercial", by_support=True, **part
    )


def credit_of(organisation) -> Decimal:
    balances = dict(
        (currency, amount) for amount, currency in credit_balances(organisation=organisation)
    )
    return balances.get(EUR, Decimal("0.00"))


def active(invoice) -> list[Decimal]:
    """The amounts of the payments still allocated to `invoice`, oldest first."""
    return list(
        Allocation.objects.filter(invoice=invoice, reversal__isnull=True)
        .order_by("pk")
        .values_list("amount", flat=True)
    )


def assert_books_balance(organisation):
    """Nothing counted twice: every euro received is on an invoice, refunded, or credit;
    each invoice's `amount_paid` is its active allocations, and with its credit notes never
    more than its total."""
    received = Payment.objects.filter(organisation=organisation).aggregate(s=Sum("amount"))["s"]
    allocated = Allocation.objects.filter(
        payment__organisation=organisation, reversal__isnull=True
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    assert received == allocated + credit_of(organisation)
    for invoice in Invoice.objects.filter(organisation=organisation, kind="invoice"):
        assert invoice.amount_paid == sum(active(invoice), Decimal(0)), invoice.number
        assert invoice.amount_paid + invoice.credited <= invoice.total, invoice.number


# --- A fully paid invoice --------------------------------------------------------------------


def test_a_credit_note_on_a_fully_paid_invoice_becomes_the_accounts_credit(
    owner, lyon, support_user, django_capture_on_commit_callbacks
):
    target = lyon["INV-10681"]  # 1 200,00, no VAT
    payment = pay(owner.organisation, "1200.00", [target])
    assert fresh(target).status == "paid" and credit_of(owner.organisation) == 0
    with django_capture_on_commit_callbacks(execute=True):
        credit_note = credit(target, actor=support_user)

    assert credit_note.total == Decimal("-1200.00")
    assert credit_note.returned_to_credit == Decimal("1200.00")
    assert credit_note.status_label == "Ajouté à l'avoir"
    paid = fresh(target)
    # Still paid, on the day it was paid; what its payments settle is now nothing.
    assert (paid.status, paid.paid_on, paid.amount_paid) == ("paid", PAID_ON, Decimal("0.00"))
    assert (paid.credited, paid.amount_due, paid.credit_returned) == (
        Decimal("1200.00"),
        Decimal("0.00"),
        Decimal("1200.00"),
    )
    # The allocation is undone by the credit note: the payment is credit again.
    reversal = AllocationReversal.objects.get()
    assert reversal.allocation == payment.allocations.get()
    assert (reversal.credit_note, reversal.actor) == (credit_note, support_user)
    assert active(target) == []
    assert credit_balances(organisation=owner.organisation) == [(Decimal("1200.00"), EUR)]
    assert Payment.objects.count() == 1  # no money made up
    assert not paid.status_events.filter(code=InvoiceStatusEvent.Code.UNPAID).exists()
    assert not AuditEvent.objects.filter(action="invoice.unpaid").exists()

    issued = AuditEvent.objects.get(action="credit_note.issued")
    assert issued.after["returned_to_credit"] == "1200.00"
    returned = AuditEvent.objects.get(action="credit.returned")
    assert returned.actor == support_user
    assert returned.actor_label.startswith("support")
    assert returned.after == {
        "credit_note": credit_note.number,
        "invoice": target.number,
        "amount": "1200.00",
        "currency": EUR,
        "allocations_undone": [{"payment": payment.pk, "amount": "1200.00"}],
        "earlier_payment": "",
        "credit": "1200.00",
    }
    # The email says where the money went.
    email = Email.objects.get(kind="credit_note_issued", to="owner@example.com")
    body = re.sub(r"[ \n]+", " ", email.body_text)
    assert "ce montant de 1\xa0200,00\xa0€ s'ajoute à votre avoir disponible" in body
    assert_books_balance(owner.organisation)


def test_a_partial_credit_note_on_a_paid_invoice_keeps_the_rest_allocated(
    owner, lyon, support_user
):
    target = lyon["INV-10681"]
    payment = pay(owner.organisation, "1200.00", [target])
    credit_note = credit(target, amount=Decimal("200.00"))
    assert credit_note.returned_to_credit == Decimal("200.00")
    paid = fresh(target)
    assert (paid.status, paid.amount_paid, paid.paid_on) == ("paid", Decimal("1000.00"), PAID_ON)
    # The 1 200,00 allocation is undone whole, its kept 1 000,00 allocated again.
    assert list(payment.allocations.order_by("pk").values_list("amount", "reversal")) == [
        (Decimal("1200.00"), AllocationReversal.objects.get().pk),
        (Decimal("1000.00"), None),
    ]
    assert credit_of(owner.organisation) == Decimal("200.00")
    # A second credit note takes the rest: all of the payment is credit.
    credit(target)
    assert fresh(target).amount_paid == 0 and fresh(target).status == "paid"
    assert credit_of(owner.organisation) == Decimal("1200.00")
    assert AuditEvent.objects.filter(action="credit.returned").count() == 2
    assert_books_balance(owner.organisation)


def test_the_newest_payment_goes_back_first(owner, lyon):
    target = lyon["INV-10681"]
    first = pay(owner.organisation, "700.00", [target], received_on=date(2026, 2, 1))
    second = pay(owner.organisation, "500.00", [target], received_on=date(2026, 2, 5))
    assert fresh(target).status == "paid"
    credit(target, amount=Decimal("600.00"))
    # 500,00 of the newer payment, then 100,00 of the older one (600,00 of it kept).
    assert list(
        Allocation.objects.filter(reversal__isnull=True).values_list("payment", "amount")
    ) == [(first.pk, Decimal("600.00"))]
    assert fresh(target).amount_paid == Decimal("600.00")
    assert credit_of(owner.organisation) == Decimal("600.00")
    assert second.allocations.get().reversal.credit_note.returned_to_credit == Decimal("600.00")
    assert_books_balance(owner.organisation)


# --- A partly paid invoice -------------------------------------------------------------------


def test_on_a_partly_paid_invoice_only_the_excess_becomes_credit(owner, lyon, support_user):
    target = lyon["INV-10682"]  # 7 200,00
    payment = pay(owner.organisation, "3000.00", [target])
    assert fresh(target).amount_due == Decimal("4200.00")
    # 1 000,00: taken off what is due, no credit.
    first = credit(target, amount=Decimal("1000.00"))
    assert first.returned_to_credit == 0 and first.status_label == "Imputé"
    assert (fresh(target).status, fresh(target).amount_due) == ("open", Decimal("3200.00"))
    assert credit_of(owner.organisation) == 0
    assert not AllocationReversal.objects.exists()

    # 4 000,00: 3 200,00 of it was still due, the 800,00 beyond was paid: credit.
    second = credit(target, amount=Decimal("4000.00"), actor=support_user)
    assert second.returned_to_credit == Decimal("800.00")
    assert second.credit_taken_off_due == Decimal("3200.00")
    settled = fresh(target)
    # What is left to pay (7 200 − 5 000 = 2 200,00) is what its payment keeps: paid, today.
    assert (settled.status, settled.amount_paid, settled.amount_due) == (
        "paid",
        Decimal("2200.00"),
        Decimal("0.00"),
    )
    assert settled.paid_on == timezone.localdate()
    assert settled.credit_returned == Decimal("800.00")
    assert credit_balances(organisation=owner.organisation) == [(Decimal("800.00"), EUR)]
    assert list(payment.allocations.order_by("pk").values_list("amount", flat=True)) == [
        Decimal("3000.00"),
        Decimal("2200.00"),
    ]
    assert AuditEvent.objects.filter(action="invoice.paid").count() == 1
    assert AuditEvent.objects.get(action="credit.returned").after["amount"] == "800.00"
    assert_books_balance(owner.organisation)


def test_crediting_exactly_what_is_due_pays_the_invoice_without_credit(owner, lyon):
    target = lyon["INV-10682"]
    pay(owner.organisation, "3000.00", [target])
    credit_note = credit(target, amount=Decimal("4200.00"))
    assert credit_note.returned_to_credit == 0
    assert (fresh(target).status, fresh(target).paid_on) == ("paid", timezone.localdate())
    assert fresh(target).amount_paid == Decimal("3000.00")
    assert credit_of(owner.organisation) == 0
    assert not AllocationReversal.objects.exists()
    assert_books_balance(owner.organisation)


def test_a_partly_paid_invoice_credited_in_full_is_void_and_its_payment_is_credit(owner, lyon):
    target = lyon["INV-10682"]
    pay(owner.organisation, "3000.00", [target])
    credit_note = credit(target)  # everything: 7 200,00
    assert credit_note.returned_to_credit == Decimal("3000.00")
    void = fresh(target)
    assert (void.status, void.amount_paid, void.paid_on) == ("void", Decimal("0.00"), None)
    assert credit_of(owner.organisation) == Decimal("3000.00")
    assert AuditEvent.objects.filter(action="invoice.voided").count() == 1
    assert not AuditEvent.objects.filter(action="invoice.paid").exists()
    assert_books_balance(owner.organisation)


# --- The credit, used or refunded ------------------------------------------------------------


def test_the_next_invoice_uses_the_credit_a_credit_note_gave_back(
    owner, lyon, plan, django_capture_on_commit_callbacks
):
    organisation = owner.organisation
    target = lyon["INV-10681"]
    payment = pay(organisation, "1200.00", [target])
    credit(target, amount=Decimal("500.00"))
    assert credit_of(organisation) == Decimal("500.00")
    with django_capture_on_commit_callbacks(execute=True):
        issued = invoice_issue(
            organisation=organisation,
            lines=[LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal(300))],
        )
    issued = fresh(issued)  # 360,00 TTC: paid by the credit, the day it is issued
    assert (issued.status, issued.amount_paid, issued.paid_on) == (
        "paid",
        Decimal("360.00"),
        issued.issue_date,
    )
    assert Allocation.objects.get(invoice=issued).payment == payment
    assert credit_of(organisation) == Decimal("140.00")
    assert Payment.objects.count() == 1
    email = Email.objects.get(kind="invoice_issued", to="owner@example.com")
    assert "Cette facture est déjà réglée par votre avoir disponible." in email.body_text
    assert_books_balance(organisation)


def test_a_refund_clears_the_credit_and_the_pages_say_so(owner, lyon, support_user, client_for):
    organisation = owner.organisation
    target = lyon["INV-10681"]
    pay(organisation, "1200.00", [target])
    credit_note = credit(target, amount=Decimal("300.00"))
    client = client_for(owner)
    page = client.get(f"/billing/invoices/{target.number}/").content.decode()
    assert re.search(r"Avoir disponible sur votre compte aujourd'hui : 300,00\xa0€", page)
    tab = client.get("/billing/invoices/").content.decode()
    assert re.search(r'data-testid="credit-balance">\s*Avoir disponible : 300,00\xa0€', tab)

    refund = refund_record(
        organisation=organisation,
        amount=Decimal("300.00"),
        currency=EUR,
        refunded_on=timezone.localdate(),
        reason=f"Avoir {credit_note.number}",
        actor=support_user,
    )
    assert credit_balances(organisation=organisation) == []
    assert Refund.objects.get() == refund
    assert refund.allocations.get().amount == Decimal("300.00")
    assert AuditEvent.objects.filter(action="refund.recorded").count() == 1
    # The invoice keeps saying what its credit note gave back; the account has none left.
    page = client.get(f"/billing/invoices/{target.number}/").content.decode()
    assert re.search(r"Ajouté à votre avoir disponible : 300,00\xa0€", page)
    assert re.search(
        r"Avoir disponible sur votre compte aujourd'hui : 0,00\xa0€\.\s*"
        r"Il a été déduit de vos factures ou remboursé\.",
        page,
    )
    tab = client.get("/billing/invoices/").content.decode()
    assert 'data-testid="credit-balance"' not in tab
    # Nothing more to refund.
    with pytest.raises(ValidationError, match="0,00"):
        refund_record(
            organisation=organisation,
            amount=Decimal("0.01"),
            currency=EUR,
            refunded_on=timezone.localdate(),
            reason="Encore",
            actor=support_user,
        )
    assert_books_balance(organisation)


def test_support_can_still_undo_what_the_invoice_keeps(owner, lyon, support_user):
    target = lyon["INV-10681"]
    pay(owner.organisation, "1200.00", [target])
    credit(target, amount=Decimal("200.00"))
    kept = Allocation.objects.get(invoice=target, reversal__isnull=True)
    allocation_reverse(allocation=kept, reason="Mauvaise facture", actor=support_user)
    reopened = fresh(target)
    # It asks again what its credit note left: 1 000,00; the whole payment is credit.
    assert (reopened.status, reopened.amount_due) == ("open", Decimal("1000.00"))
    assert credit_of(owner.organisation) == Decimal("1200.00")
    assert_books_balance(owner.organisation)


# --- Invoices paid before payments were recorded ---------------------------------------------


def test_an_invoice_paid_without_a_recorded_payment_gives_its_credit_all_the_same(
    owner, lyon, support_user
):
    target = invoice_mark_paid(invoice=lyon["INV-10683"], paid_on=date(2026, 2, 2))  # 600,00
    credit_note = credit(target, amount=Decimal("250.00"), actor=support_user)
    assert credit_note.returned_to_credit == Decimal("250.00")
    earlier = Payment.objects.get()
    assert (earlier.amount, earlier.currency, earlier.received_on, earlier.source) == (
        Decimal("250.00"),
        EUR,
        date(2026, 2, 2),
        Payment.Source.EARLIER,
    )
    assert earlier.method == Payment.Method.OTHER and earlier.bank_entry is None
    assert target.number in earlier.note and credit_note.number in earlier.note
    assert not earlier.allocations.exists()
    assert (fresh(target).status, fresh(target).amount_paid) == ("paid", Decimal("0.00"))
    assert credit_balances(organisation=owner.organisation) == [(Decimal("250.00"), EUR)]
    event = AuditEvent.objects.get(action="credit.returned")
    assert (event.after["earlier_payment"], event.after["allocations_undone"]) == ("250.00", [])
    # No receipt: nothing was received today.
    assert not Email.objects.filter(kind="payment_received").exists()
    # Refunded like any credit.
    refund_record(
        organisation=owner.organisation,
        amount=Decimal("250.00"),
        currency=EUR,
        refunded_on=timezone.localdate(),
        reason="Avoir",
        actor=support_user,
    )
    assert credit_balances(organisation=owner.organisation) == []


# --- What support sees -----------------------------------------------------------------------


def test_the_console_shows_the_credit_and_where_it_came_from(client, owner, lyon, support_user):
    target = lyon["INV-10681"]
    pay(owner.organisation, "1200.00", [target])
    credit_note = credit(target, amount=Decimal("200.00"))
    client.force_login(support_user)
    console = client.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    assert re.search(r'data-testid="credit">200,00\xa0€', console)
    assert f"porté au crédit par l'avoir {credit_note.number}" in console
    assert "200,00\xa0€ porté au crédit du compte" in console
    page = client.get(
        reverse("admin:payments_payment_change", args=[Payment.objects.get().pk])
    ).content.decode()
    assert f"par l&#x27;avoir {credit_note.number} : Geste commercial" in page


# --- Records written before credit notes gave money back --------------------------------------


def test_the_migration_moves_earlier_credit_notes_into_the_credit(owner, lyon, monkeypatch):
    """Credit notes of paid invoices issued before this (invoices 0010 set their
    `returned_to_credit`, nothing in payments): payments 0002 does what credit_return
    does now."""
    ledger = lyon["INV-10681"]
    pay(owner.organisation, "1200.00", [ledger])
    ticked = invoice_mark_paid(invoice=lyon["INV-10683"], paid_on=date(2026, 2, 2))
    monkeypatch.setattr(hooks.invoice_credited, "handlers", [])
    first = credit(ledger, amount=Decimal("200.00"))
    second = credit(ticked)
    assert credit_of(owner.organisation) == 0 and fresh(ledger).amount_paid == 1200
    monkeypatch.undo()

    migration = importlib.import_module("payments.migrations.0002_credit_notes_return_to_credit")
    migration.credit_notes_to_credit(apps, None)

    assert fresh(ledger).amount_paid == Decimal("1000.00")
    assert active(ledger) == [Decimal("1000.00")]
    assert AllocationReversal.objects.get().credit_note_id == first.pk
    earlier = Payment.objects.get(source=Payment.Source.EARLIER)
    assert (earlier.amount, earlier.received_on) == (Decimal("600.00"), date(2026, 2, 2))
    assert second.number in earlier.note
    assert credit_of(owner.organisation) == Decimal("800.00")
    assert_books_balance(owner.organisation)


def test_the_hook_is_registered_by_payments():
    assert credit_return in hooks.invoice_credited.handlers
