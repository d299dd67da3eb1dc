"""Payments as records: recorded, allocated, undone, refunded, used by the next invoice."""

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent
from emails.models import Email
from emails.services import email_content, email_send
from invoices.models import InvoiceStatusEvent
from invoices.services import credit_note_issue, invoice_issue
from invoices.totals import LineSpec
from payments.models import Allocation, AllocationReversal, Payment, RecordError, Refund
from payments.selectors import account_payments, credit_balances
from payments.services import (
    allocation_reverse,
    credit_apply,
    payment_record,
    refund_record,
)

from .conftest import LYON_IBAN, fresh, invoice

PAID_ON = date(2026, 2, 10)


def pay(organisation, amount, invoices=(), **extra):
    extra.setdefault("received_on", PAID_ON)
    return payment_record(
        organisation=organisation,
        amount=Decimal(amount),
        currency=extra.pop("currency", "EUR"),
        invoices=list(invoices),
        **extra,
    )


def codes(inv):
    return list(inv.status_events.order_by("occurred_at", "pk").values_list("code", flat=True))


def test_a_full_payment_makes_the_invoice_paid_on_the_payment_date(
    owner, lyon, support_user, django_capture_on_commit_callbacks
):
    target = lyon["INV-10681"]
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(
            owner.organisation,
            "1200.00",
            [target],
            payer_name="Festival de Lyon",
            payer_iban="FR14 2004 1010 0505 0001 3M02 606",
            bank_reference="VIR 42",
            actor=support_user,
            by_support=True,
        )
    paid = fresh(target)
    assert (paid.status, paid.amount_paid, paid.paid_on) == ("paid", Decimal("1200.00"), PAID_ON)
    assert paid.amount_due == 0
    # « Payée » and « Encaissée » in the history, on the payment's date, not today.
    events = paid.status_events.filter(code__in=["paid", "212"])
    assert {e.code for e in events} == {"paid", "212"}
    assert {timezone.localtime(e.occurred_at).date() for e in events} == {PAID_ON}
    assert payment.payer_iban == LYON_IBAN  # stored compact
    assert [(a.invoice, a.amount) for a in payment.allocations.all()] == [
        (target, Decimal("1200.00"))
    ]
    recorded = AuditEvent.objects.get(action="payment.recorded")
    assert recorded.actor_label == "support: Léa Moreau"
    assert recorded.after["invoices"] == {"INV-10681": "1200.00"}
    assert recorded.after["credit"] == "0.00"
    assert AuditEvent.objects.filter(action="invoice.paid").count() == 1
    # The receipt, to the owner only, in the account's language.
    receipt = Email.objects.get(kind="payment_received")
    assert receipt.to == "owner@example.com"
    assert receipt.subject == "Paiement reçu : 1 200,00 €"  # one line, plain spaces
    assert "INV-10681" in receipt.body_text and "facture payée" in receipt.body_html
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]


def test_a_partial_payment_leaves_the_rest_due(owner, lyon):
    target = lyon["INV-10682"]
    pay(owner.organisation, "3000.00", [target])
    partly = fresh(target)
    assert (partly.status, partly.amount_paid, partly.amount_due) == (
        "open",
        Decimal("3000.00"),
        Decimal("4200.00"),
    )
    assert partly.paid_on is None and "paid" not in codes(partly)
    first = Email.objects.get(kind="payment_received")
    assert "reste à payer 4\xa0200,00\xa0€" in email_content(first)["body_text"]
    pay(owner.organisation, "4200.00", [target], received_on=date(2026, 2, 12))
    paid = fresh(target)
    assert (paid.status, paid.paid_on, paid.amount_due) == ("paid", date(2026, 2, 12), 0)
    # The first receipt, sent only now (rendered when sent): still what its payment left.
    assert email_send(email_id=first.pk)
    (message,) = mail.outbox
    assert "Facture INV-10682 : 3\xa0000,00\xa0€ imputés, reste à payer 4\xa0200,00\xa0€." in (
        message.body
    )
    assert message.subject == "Paiement reçu : 3 000,00 €"
    first.refresh_from_db()
    assert (first.status, first.body_text, first.subject) == (
        "sent",
        message.body,
        "Paiement reçu : 3 000,00 €",
    )


def test_an_overpayment_pays_the_oldest_open_invoices_then_becomes_credit(owner, lyon):
    # 2 000,00 naming INV-10683 (600,00): then INV-10680 (1 200,00, due first), then
    # 200,00 of INV-10681; nothing left.
    payment = pay(owner.organisation, "2000.00", [lyon["INV-10683"]])
    allocated = [(a.invoice.number, a.amount) for a in payment.allocations.order_by("pk")]
    assert allocated == [
        ("INV-10683", Decimal("600.00")),
        ("INV-10680", Decimal("1200.00")),
        ("INV-10681", Decimal("200.00")),
    ]
    assert credit_balances(organisation=owner.organisation) == []
    # Everything paid: the next 9 000,00 leaves 9 000 − 1 000 − 7 200 = 800,00 of credit.
    pay(owner.organisation, "9000.00")
    assert all(fresh(i).status == "paid" for i in lyon.values())
    assert credit_balances(organisation=owner.organisation) == [(Decimal("800.00"), "EUR")]
    receipt = Email.objects.filter(kind="payment_received").order_by("pk").last()
    assert "Avoir disponible : 800,00\xa0€." in email_content(receipt)["body_text"]


def test_without_an_invoice_named_the_oldest_open_one_is_paid_first(owner, lyon):
    pay(owner.organisation, "1200.00")
    assert fresh(lyon["INV-10680"]).status == "paid"
    assert fresh(lyon["INV-10681"]).status == "open"


def test_the_next_invoice_uses_the_credit_balance(owner, plan, django_capture_on_commit_callbacks):
    organisation = owner.organisation
    pay(organisation, "500.00")  # no invoice open: all credit
    assert credit_balances(organisation=organisation) == [(Decimal("500.00"), "EUR")]
    with django_capture_on_commit_callbacks(execute=True):
        issued = invoice_issue(
            organisation=organisation,
            lines=[LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal(300))],
        )
    first = fresh(issued)  # 360,00 TTC, paid by the credit the day it is issued
    assert (first.status, first.amount_paid, first.paid_on) == (
        "paid",
        Decimal("360.00"),
        first.issue_date,
    )
    assert credit_balances(organisation=organisation) == [(Decimal("140.00"), "EUR")]
    second = fresh(
        invoice_issue(
            organisation=organisation,
            lines=[LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal(300))],
        )
    )
    assert (second.status, second.amount_paid, second.amount_due) == (
        "open",
        Decimal("140.00"),
        Decimal("220.00"),
    )
    assert credit_balances(organisation=organisation) == []
    assert AuditEvent.objects.filter(action="credit.applied").count() == 2
    # The invoice email says what the credit paid.
    emails = Email.objects.filter(kind="invoice_issued").order_by("pk")
    assert "déjà réglée" in emails[0].body_text
    assert "Reste à payer : 220,00\xa0€" in emails[1].body_text


def test_an_account_without_credit_issues_as_before(owner):
    issued = invoice_issue(
        organisation=owner.organisation,
        lines=[LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal(300))],
    )
    assert fresh(issued).status == "open" and not Allocation.objects.exists()


def test_undoing_an_allocation_reopens_the_invoice_and_returns_the_money_to_credit(
    owner, lyon, support_user
):
    target = lyon["INV-10681"]
    payment = pay(owner.organisation, "1200.00", [target])
    allocation = payment.allocations.get()
    reversal = allocation_reverse(
        allocation=allocation, reason="Virement d'un autre client", actor=support_user
    )
    reopened = fresh(target)
    assert (reopened.status, reopened.amount_paid, reopened.paid_on) == ("open", 0, None)
    assert codes(reopened)[-1] == InvoiceStatusEvent.Code.UNPAID
    assert credit_balances(organisation=owner.organisation) == [(Decimal("1200.00"), "EUR")]
    # A record, never a delete: the allocation is still there, and undone.
    assert Allocation.objects.get(pk=allocation.pk).reversal == reversal
    event = AuditEvent.objects.get(action="allocation.reversed")
    assert event.before["invoice"] == "INV-10681" and event.after["reason"]
    assert AuditEvent.objects.filter(action="invoice.unpaid").count() == 1
    with pytest.raises(ValidationError, match="déjà annulée"):
        allocation_reverse(allocation=allocation, reason="Encore", actor=support_user)
    with pytest.raises(ValidationError):
        allocation_reverse(allocation=payment.allocations.get(), reason=" ", actor=support_user)
    # Support puts the credit where it belongs: the oldest open invoice first.
    credit_apply(organisation=owner.organisation, actor=support_user, by_support=True)
    assert fresh(lyon["INV-10680"]).status == "paid"
    assert AllocationReversal.objects.count() == 1


def test_records_are_never_edited_or_deleted(owner, lyon):
    payment = pay(owner.organisation, "100.00")
    allocation = payment.allocations.get()
    for action in (payment.save, payment.delete, allocation.save, allocation.delete):
        with pytest.raises(RecordError):
            action()
    with pytest.raises(RecordError):
        Payment.objects.filter(pk=payment.pk).update(amount=1)
    with pytest.raises(RecordError):
        Allocation.objects.all().delete()


def test_a_refund_pays_the_credit_back_and_no_more(owner, support_user):
    pay(owner.organisation, "300.00")
    with pytest.raises(ValidationError) as refused:
        refund_record(
            organisation=owner.organisation,
            amount=Decimal("300.01"),
            currency="EUR",
            refunded_on=date(2026, 2, 15),
            reason="Trop-perçu",
            actor=support_user,
        )
    assert "300,00" in str(refused.value.message_dict["amount"])
    refund = refund_record(
        organisation=owner.organisation,
        amount=Decimal("300.00"),
        currency="EUR",
        refunded_on=date(2026, 2, 15),
        payee_iban=LYON_IBAN,
        reason="Trop-perçu",
        actor=support_user,
    )
    assert credit_balances(organisation=owner.organisation) == []
    assert Refund.objects.get() == refund and refund.allocations.get().amount == 300
    assert AuditEvent.objects.filter(action="refund.recorded").count() == 1
    with pytest.raises(ValidationError, match="définitif"):
        allocation_reverse(allocation=refund.allocations.get(), reason="x", actor=support_user)


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("amount", {"amount": "0"}),
        ("amount", {"amount": "-5"}),
        ("amount", {"amount": "10.001"}),
        ("amount", {"amount": "NaN"}),
        ("currency", {"currency": "E1"}),
        ("received_on", {"received_on": date(2999, 1, 1)}),
        ("method", {"method": "cash"}),
        ("payer_iban", {"payer_iban": "FR00 1234"}),
    ],
)
def test_bad_input_is_refused_and_records_nothing(owner, lyon, field, changes):
    data = {"amount": "10.00", **changes}
    with pytest.raises(ValidationError) as refused:
        pay(owner.organisation, data.pop("amount"), **data)
    assert field in refused.value.message_dict
    assert not Payment.objects.exists() and not AuditEvent.objects.exists()


def test_an_invoice_of_another_account_or_currency_is_refused(owner, other_owner, lyon, nordic):
    with pytest.raises(ValidationError, match="n'est pas une facture de ce compte"):
        pay(owner.organisation, "500.00", [nordic["INV-10690"]])
    dollars = invoice(owner.organisation, "INV-10699", "100.00", currency="USD")
    with pytest.raises(ValidationError, match="en USD"):
        pay(owner.organisation, "100.00", [dollars])
    assert not Payment.objects.exists()


def test_a_paid_or_cancelled_invoice_takes_no_more(owner, lyon):
    paid = lyon["INV-10680"]
    pay(owner.organisation, "1200.00", [paid])
    # Named again (a duplicate transfer): it passes to the next open invoice.
    second = pay(owner.organisation, "1200.00", [fresh(paid)])
    assert [a.invoice.number for a in second.allocations.all()] == ["INV-10681"]


def test_a_payment_settles_what_credit_notes_left(owner, lyon, support_user):
    target = lyon["INV-10681"]  # 1 200,00
    credit_note_issue(invoice=target, actor=support_user, reason="Geste", amount=Decimal("200.00"))
    payment = pay(owner.organisation, "1200.00", [fresh(target)])
    assert fresh(target).status == "paid"
    # 1 000,00 to it, the 200,00 left to the oldest other open invoice.
    assert [(a.invoice.number, a.amount) for a in payment.allocations.order_by("pk")] == [
        ("INV-10681", Decimal("1000.00")),
        ("INV-10680", Decimal("200.00")),
    ]


def test_the_support_overview_of_an_accounts_money(owner, lyon, nordic):
    pay(owner.organisation, "3000.00", [lyon["INV-10682"]])
    money = account_payments(organisation=owner.organisation)
    # Open, oldest due first; all overdue (due in February 2026).
    assert [i.number for i in money.open_invoices] == [
        "INV-10680",
        "INV-10681",
        "INV-10682",
        "INV-10683",
    ]
    assert all(i.overdue for i in money.open_invoices)
    # 1 200 + 1 200 + 4 200 + 600
    assert money.balance_due == [(Decimal("7200.00"), "EUR")]
    assert money.overdue_due == money.balance_due
    assert money.credit == []
    assert [p.amount for p in money.payments] == [Decimal("3000.00")]
    assert money.payments[0].unallocated == 0


def test_a_payment_dated_today_is_paid_now(owner, lyon):
    today = timezone.localdate()
    pay(owner.organisation, "1200.00", [lyon["INV-10680"]], received_on=today)
    event = fresh(lyon["INV-10680"]).status_events.get(code="paid")
    assert event.occurred_at > timezone.make_aware(datetime.combine(today, time.min))
