"""What the bank's statement says of the collections: booked, the invoices are paid;
returned or refused, the payment is undone, the invoice reopened, the owner told why, and
too many returns suspend the mandate. Files written for the tests, valid against the XSD."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from emails.models import Email
from invoices.models import Invoice
from payments import camt
from payments.models import (
    AllocationReversal,
    BankEntry,
    Collection,
    Mandate,
    Payment,
    Refund,
)
from payments.reminders import invoices_to_remind
from payments.selectors import credit_balances
from payments.services import bank_entry_assign, bank_entry_dismiss, statement_import

from .conftest import LYON_IBAN, invoice
from .direct_debit import collected, collection, entry, mandate, returned, statement, transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(owner):
    """Three of Lyon's invoices collected under one mandate, in a file sent to the bank."""
    account = owner.organisation
    debit = mandate(account)
    rows = {
        number: collection(invoice(account, number, total), debit, status="exported")
        for number, total in [
            ("INV-10680", "1200.00"),
            ("INV-10682", "7200.00"),
            ("INV-10683", "600.00"),
        ]
    }
    rows["mandate"] = debit
    return rows


def do_import(data: bytes, actor=None):
    return statement_import(data=data, file_name="releve.xml", actor=actor)


def fresh(row):
    return type(row).objects.get(pk=row.pk)


def status_of(*numbers):
    return [Invoice.objects.get(number=number).status for number in numbers]


def test_reading_a_return(sent):
    data = statement(returned(sent["INV-10682"], "AM04"), entry("12.00", direction="DBIT"))
    bank_file = camt.read(data)
    (taken_back,) = bank_file.credits
    assert taken_back.is_return and taken_back.return_reason == "AM04"
    assert taken_back.end_to_end_id == sent["INV-10682"].end_to_end_id
    assert taken_back.amount == Decimal("7200.00")
    assert bank_file.ignored == 1  # a debit without return information: a fee, not ours


def test_the_statement_pays_the_collected_invoices(sent, support_user):
    booked = collected(sent["INV-10680"], sent["INV-10682"])
    imported = do_import(statement(booked), actor=support_user)
    assert (imported.credits, imported.matched, imported.queued) == (2, 2, 0)
    assert status_of("INV-10680", "INV-10682", "INV-10683") == ["paid", "paid", "open"]
    for number in ("INV-10680", "INV-10682"):
        row = fresh(sent[number])
        assert row.status == Collection.Status.PAID
        assert row.payment.method == Payment.Method.DIRECT_DEBIT
        assert row.payment.amount == row.amount
        assert row.payment.payer_iban == LYON_IBAN
        assert row.payment.bank_entry.rule == BankEntry.Rule.COLLECTION
        assert [a.invoice.number for a in row.payment.allocations.all()] == [number]
    assert fresh(sent["INV-10683"]).status == Collection.Status.EXPORTED
    assert Email.objects.filter(kind="payment_received").count() == 2
    assert AuditEvent.objects.filter(action="collection.paid").count() == 2
    assert credit_balances(organisation=sent["mandate"].organisation) == []


def test_a_single_entry_for_one_collection_pays_it(sent):
    one = sent["INV-10683"]
    do_import(statement(entry("600.00", transaction(one.end_to_end_id, "600.00"), bank_ref="B1")))
    assert fresh(one).status == Collection.Status.PAID
    assert status_of("INV-10683") == ["paid"]


def test_a_credit_of_another_amount_is_no_collection(sent):
    """The end-to-end id alone does not make it the collection: the amount must be it."""
    one = sent["INV-10683"]
    do_import(statement(entry("60.00", transaction(one.end_to_end_id, "60.00"), bank_ref="B2")))
    assert fresh(one).status == Collection.Status.EXPORTED
    assert not Payment.objects.filter(method=Payment.Method.DIRECT_DEBIT).exists()


def test_a_return_after_settlement_reopens_the_invoice(sent, owner):
    do_import(statement(collected(sent["INV-10680"], sent["INV-10682"]), message_id="D1"))
    payment = fresh(sent["INV-10682"]).payment
    imported = do_import(
        statement(returned(sent["INV-10682"], "AM04", bank_ref="RET-1"), message_id="D2")
    )
    assert (imported.returns, imported.credits, imported.matched) == (1, 0, 1)
    # Exactly that invoice reopens, for its whole amount; the other stays paid.
    assert status_of("INV-10680", "INV-10682") == ["paid", "open"]
    reopened = Invoice.objects.get(number="INV-10682")
    assert reopened.amount_due == Decimal("7200.00") and reopened.paid_on is None
    row = fresh(sent["INV-10682"])
    assert (row.status, row.return_reason) == (Collection.Status.RETURNED, "AM04")
    assert row.return_entry.kind == BankEntry.Kind.RETURN
    assert row.payment == payment  # the record stays; its allocation is undone
    (reversal,) = AllocationReversal.objects.filter(allocation__payment=payment)
    assert "AM04" in reversal.reason
    # The money went back to the payer: recorded, so the account has no credit from it.
    (refund,) = Refund.objects.all()
    assert (refund.amount, refund.payee_iban, refund.reference) == (
        Decimal("7200.00"),
        LYON_IBAN,
        "RET-1",
    )
    assert credit_balances(organisation=owner.organisation) == []
    email = Email.objects.get(kind="direct_debit_returned")
    assert email.to == "owner@example.com"
    assert "Le compte n'était pas suffisamment approvisionné." in email.body_text
    assert "INV-10682" in email.subject and "7\xa0200,00\xa0€" in email.body_text
    event = AuditEvent.objects.get(action="collection.returned")
    assert event.after["reopened"] == ["INV-10682"] and event.after["reason"] == "AM04"
    assert fresh(sent["mandate"]).status == Mandate.Status.ACTIVE  # one return: still active


def test_importing_the_same_return_twice_does_nothing_twice(sent):
    do_import(statement(collected(sent["INV-10682"]), message_id="D1"))
    returns = statement(returned(sent["INV-10682"], "MD06"), message_id="D2")
    do_import(returns)
    again = do_import(returns)
    assert (again.returns, again.new_entries, again.matched, again.duplicates) == (1, 0, 0, 1)
    assert Refund.objects.count() == 1
    assert AllocationReversal.objects.count() == 1
    assert Email.objects.filter(kind="direct_debit_returned").count() == 1
    assert AuditEvent.objects.filter(action="collection.returned").count() == 1


def test_a_return_before_settlement_reopens_nothing_paid(sent):
    do_import(statement(returned(sent["INV-10683"], "AC04")))
    row = fresh(sent["INV-10683"])
    assert (row.status, row.return_reason, row.payment) == ("returned", "AC04", None)
    assert status_of("INV-10683") == ["open"]
    assert not Payment.objects.exists() and not Refund.objects.exists()
    email = Email.objects.get(kind="direct_debit_returned")
    assert "Le compte bancaire est clôturé." in email.body_text


def test_returns_in_one_statement_reopen_exactly_their_invoices(sent, owner):
    do_import(
        statement(
            collected(sent["INV-10680"], sent["INV-10682"], sent["INV-10683"]), message_id="D1"
        )
    )
    assert status_of("INV-10680", "INV-10682", "INV-10683") == ["paid"] * 3
    do_import(
        statement(
            returned(sent["INV-10680"], "MS02"),
            returned(sent["INV-10683"], "MD06"),
            entry("35.00", direction="DBIT", bank_ref="FEES"),
            message_id="D2",
        )
    )
    assert status_of("INV-10680", "INV-10682", "INV-10683") == ["open", "paid", "open"]
    assert sorted(Collection.objects.values_list("status", flat=True)) == [
        "paid",
        "returned",
        "returned",
    ]
    assert credit_balances(organisation=owner.organisation) == []


def test_a_collection_booked_and_returned_in_one_statement(sent, owner):
    do_import(
        statement(
            collected(sent["INV-10682"], version="02"),
            returned(sent["INV-10682"], "AM04", version="02"),
            version="02",
        )
    )
    assert status_of("INV-10682") == ["open"]
    assert fresh(sent["INV-10682"]).status == Collection.Status.RETURNED
    assert credit_balances(organisation=owner.organisation) == []


def test_a_reversal_in_the_2009_version_is_a_return(sent):
    do_import(statement(collected(sent["INV-10682"], version="02"), version="02", message_id="D1"))
    do_import(
        statement(
            returned(sent["INV-10682"], "SL01", reversal=True, version="02"),
            version="02",
            message_id="D2",
        )
    )
    assert status_of("INV-10682") == ["open"]
    assert fresh(sent["INV-10682"]).return_reason == "SL01"


def test_too_many_returns_suspend_the_mandate(sent, owner, settings):
    settings.DIRECT_DEBIT_MAX_RETURNS = 2
    account, debit = owner.organisation, sent["mandate"]
    waiting = collection(invoice(account, "INV-10684", "100.00"), debit, status="notified")
    planned = collection(invoice(account, "INV-10685", "100.00"), debit)
    do_import(statement(returned(sent["INV-10680"], "AM04"), message_id="D1"))
    assert fresh(debit).status == Mandate.Status.ACTIVE
    do_import(statement(returned(sent["INV-10682"], "AM04"), message_id="D2"))
    debit = fresh(debit)
    assert debit.status == Mandate.Status.SUSPENDED and "2" in debit.end_reason
    assert fresh(waiting).status == fresh(planned).status == Collection.Status.CANCELLED
    # Already at the bank: that one goes on, the statement will say what became of it.
    assert fresh(sent["INV-10683"]).status == Collection.Status.EXPORTED
    email = Email.objects.get(kind="direct_debit_suspended")
    assert "PAL-MDT-0001" in email.subject
    assert "INV-10684" in email.body_text and "INV-10685" in email.body_text
    event = AuditEvent.objects.get(action="mandate.suspended")
    assert event.after["returns"] == 2
    assert sorted(event.after["cancelled"]) == ["INV-10684", "INV-10685"]


def test_a_return_of_no_collection_waits_for_support(sent, support_user):
    unknown = entry(
        "80.00",
        transaction("SOMEONE-ELSES-1", "80.00", reason="MS03"),
        direction="DBIT",
        bank_ref="RET-X",
    )
    imported = do_import(statement(unknown))
    assert (imported.returns, imported.queued, imported.matched) == (1, 1, 0)
    queued = BankEntry.objects.get(entry_key__endswith="RET-X")
    assert queued.kind == BankEntry.Kind.RETURN
    assert queued.queue_reason == BankEntry.Reason.UNKNOWN_RETURN
    assert queued.queue_detail == "SOMEONE-ELSES-1 MS03"
    with pytest.raises(ValidationError, match="ne paie aucune facture"):
        bank_entry_assign(entry=queued, invoice=sent["INV-10680"].invoice, actor=support_user)
    assert not Payment.objects.exists()
    bank_entry_dismiss(entry=queued, reason="Prélèvement d'un autre logiciel", actor=support_user)
    assert fresh(queued).status == BankEntry.Status.DISMISSED


def test_a_return_for_a_collection_never_sent_waits_too(owner):
    planned = collection(
        invoice(owner.organisation, "INV-10680", "1200.00"), mandate(owner.organisation)
    )
    do_import(statement(returned(planned, "MD01")))
    assert fresh(planned).status == Collection.Status.PLANNED
    assert BankEntry.objects.get().queue_reason == BankEntry.Reason.UNKNOWN_RETURN


def test_the_owner_reads_the_reason_in_the_account_language(sent, owner):
    owner.organisation.language = "en"
    owner.organisation.save(update_fields=["language"])
    do_import(statement(returned(sent["INV-10682"], "MD06")))
    email = Email.objects.get(kind="direct_debit_returned")
    assert "You asked your bank to refund this direct debit." in email.body_text
    assert email.subject == "Direct debit returned: invoice INV-10682 is still to be paid"
    assert "€7,200.00" in email.body_text


def test_an_unknown_reason_code_is_said_as_it_is(sent):
    do_import(statement(returned(sent["INV-10682"], "ZZ99")))
    email = Email.objects.get(kind="direct_debit_returned")
    assert "La banque a rejeté le prélèvement (code ZZ99)." in email.body_text


def test_the_test_files_are_checked_against_the_schema(sent):
    """The builder refuses a file the camt XSD does not accept: here, the return
    information moved before the remittance, where ISO 20022 does not have it."""
    good = transaction("E2E-1", "10.00", reason="AM04", text="INV-10682")
    remittance = "<RmtInf><Ustrd>INV-10682</Ustrd></RmtInf>"
    swapped = good.replace(remittance, "").replace("</RtrInf>", f"</RtrInf>{remittance}")
    assert swapped != good
    assert statement(entry("10.00", good, direction="DBIT"))
    with pytest.raises(AssertionError, match="RmtInf"):
        statement(entry("10.00", swapped, direction="DBIT"))


def test_no_reminder_while_the_invoice_is_collected_then_after_its_return(sent, settings):
    settings.PAYMENT_REMINDER_OFFSETS = [-3, 1, 15, 30]
    today = max(Invoice.objects.values_list("due_date", flat=True)) + timedelta(days=2)
    assert not invoices_to_remind(today=today).exists()  # all three are at the bank
    do_import(statement(returned(sent["INV-10682"], "AM04")))
    assert [i.number for i in invoices_to_remind(today=today)] == ["INV-10682"]
