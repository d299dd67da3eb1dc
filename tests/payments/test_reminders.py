"""Payment reminders (docs/payments.md, « Relances »): stages, amounts, recipients, the stop
when paid, pause and resume, idempotence, the QR code and the language."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import zxingcpp
from django.core import mail
from django.core.exceptions import ValidationError
from PIL import Image

from accounts.models import AuditEvent
from emails.models import Email
from invoices.late_payment import late_charges
from invoices.services import credit_note_issue
from payments.models import Reminder, ReminderPause
from payments.reminders import due_stage, invoices_to_remind
from payments.services import (
    payment_record,
    reminders_pause,
    reminders_resume,
    reminders_send,
)
from tests.factories import BillingContactFactory

from .conftest import invoice

DUE = date(2026, 2, 14)


@pytest.fixture(autouse=True)
def _terms(settings):
    settings.LATE_PAYMENT_ECB_RATE = Decimal("2.15")
    settings.PAYMENT_REMINDER_OFFSETS = [-3, 1, 15, 30]


@pytest.fixture
def due(owner):
    """INV-10680, 1 200,00 € due on 14 February 2026, of Lyon (owner + one billing contact)."""
    BillingContactFactory(organisation=owner.organisation, email="compta@example.com")
    return invoice(owner.organisation, "INV-10680", "1200.00", due_date=DUE)


def send(owner, day: date):
    return reminders_send(organisation_ids=[owner.organisation.pk], today=day)


def day(offset: int) -> date:
    return DUE + timedelta(days=offset)


# --- Stages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "stage"),
    [(-4, None), (-3, -3), (-1, -3), (0, -3), (1, 1), (14, 1), (15, 15), (29, 15), (30, 30)],
)
def test_the_due_stage_is_the_latest_offset_reached(offset, stage):
    assert due_stage(due_date=DUE, today=day(offset)) == stage


def test_the_last_stage_stays_the_due_stage_for_good():
    assert due_stage(due_date=DUE, today=day(400)) == 30


def test_the_sql_stage_agrees_with_the_rule(owner, due):
    for offset in range(-5, 35):
        found = list(invoices_to_remind(today=day(offset)).values_list("reminder_stage", flat=True))
        expected = due_stage(due_date=DUE, today=day(offset))
        assert found == ([expected] if expected is not None else []), offset


def test_each_stage_is_sent_on_its_day_and_once(owner, due):
    sent = {}
    for offset in range(-5, 40):
        for reminder in send(owner, day(offset)):
            sent[day(offset)] = reminder.stage
    assert sent == {day(-3): -3, day(1): 1, day(15): 15, day(30): 30}
    assert Reminder.objects.count() == 4
    assert Email.objects.filter(kind="payment_reminder").count() == 8  # owner + contact


def test_a_missed_run_sends_the_latest_stage_only(owner, due):
    # Nothing ran between 10 days before the due date and 20 days after it.
    assert [r.stage for r in send(owner, day(20))] == [15]
    assert send(owner, day(21)) == []
    assert [r.stage for r in send(owner, day(30))] == [30]
    assert sorted(Reminder.objects.values_list("stage", flat=True)) == [15, 30]


def test_a_stage_added_later_before_one_sent_is_not_sent(owner, due, settings):
    send(owner, day(15))
    settings.PAYMENT_REMINDER_OFFSETS = [-3, 1, 10, 15, 30]
    assert send(owner, day(16)) == []


def test_settings_choose_the_offsets(owner, due, settings):
    settings.PAYMENT_REMINDER_OFFSETS = [7]
    assert send(owner, day(-3)) == [] and send(owner, day(6)) == []
    assert [r.stage for r in send(owner, day(7))] == [7]


# --- Amounts --------------------------------------------------------------------------------


def test_penalties_follow_the_days_late_at_the_stated_rate():
    # 1 200,00 € × (2,15 + 10) % × 15 / 365 = 5,9918 → 5,99 €; per day 0,3995 → 0,40 €.
    charges = late_charges(amount=Decimal("1200.00"), currency="EUR", due_date=DUE, on=day(15))
    assert charges.rate == Decimal("12.15")
    assert (charges.days_late, charges.penalty, charges.penalty_per_day) == (
        15,
        Decimal("5.99"),
        Decimal("0.40"),
    )
    assert (charges.indemnity, charges.indemnity_currency) == (Decimal("40.00"), "EUR")
    before = late_charges(amount=Decimal("1200.00"), currency="EUR", due_date=DUE, on=day(-3))
    assert (before.days_late, before.penalty, before.is_late) == (0, Decimal("0.00"), False)
    assert before.penalty_per_day == Decimal("0.40")


def test_the_ecb_rate_is_a_setting(settings):
    settings.LATE_PAYMENT_ECB_RATE = Decimal("4.50")
    charges = late_charges(amount=Decimal("36500.00"), currency="EUR", due_date=DUE, on=day(1))
    assert charges.rate == Decimal("14.50") and charges.penalty == Decimal("14.50")


def test_the_late_reminder_states_amount_penalties_and_indemnity(owner, due):
    (reminder,) = send(owner, day(15))
    assert (reminder.amount_due, reminder.penalty, reminder.indemnity) == (
        Decimal("1200.00"),
        Decimal("5.99"),
        Decimal("40.00"),
    )
    email = Email.objects.get(kind="payment_reminder", to="owner@example.com")
    assert email.subject == "Relance : la facture INV-10680 est échue depuis le 14 février 2026"
    body = email.body_text
    assert "Reste à payer : 1\xa0200,00\xa0€" in body
    assert "Retard : 15 jours" in body
    assert "Pénalités de retard à ce jour : 5,99\xa0€, au taux annuel de 12,15\xa0%" in body
    assert "art. L. 441-10 du Code de commerce" in body
    assert "puis 0,40\xa0€ par jour de retard" in body
    assert "Indemnité forfaitaire pour frais de recouvrement : 40,00\xa0€" in body
    assert "FR76 3000 6000 0112 3456 7890 189" in body and "AGRIFRPPXXX" in body
    assert "Référence à indiquer : RF73 INV1 0680" in body
    # The inlined HTML writes its no-break spaces as &nbsp;.
    assert "5,99&nbsp;€" in email.body_html and "40,00&nbsp;€" in email.body_html


def test_the_reminder_before_the_due_date_says_what_would_apply(owner, due):
    (reminder,) = send(owner, day(-3))
    assert (reminder.stage, reminder.penalty, reminder.indemnity) == (-3, 0, 0)
    email = Email.objects.get(kind="payment_reminder", to="owner@example.com")
    assert email.subject == "Rappel : la facture INV-10680 arrive à échéance le 14 février 2026"
    assert "Passé l'échéance, des pénalités de retard seraient exigibles" in email.body_text
    assert "soit 0,40\xa0€ par jour de retard" in email.body_text
    assert "indemnité forfaitaire pour frais de recouvrement de 40,00\xa0€" in email.body_text
    assert "Pénalités de retard à ce jour" not in email.body_text


def test_what_is_due_counts_payments_and_credit_notes(owner, due):
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("200.00"),
        currency="EUR",
        received_on=DUE,
        invoices=[due],
        actor=None,
    )
    credit_note_issue(invoice=due, actor=None, reason="Geste", amount=Decimal("100.00"))
    (reminder,) = send(owner, day(1))
    # 1 200,00 − 200,00 paid − 100,00 credited (VAT 0 %) = 900,00 €.
    assert reminder.amount_due == Decimal("900.00")
    assert "900,00\xa0€" in Email.objects.filter(kind="payment_reminder").first().body_text


def test_an_invoice_in_another_currency_owes_penalties_in_it_and_the_indemnity_in_euros(
    owner,
):
    invoice(owner.organisation, "INV-10681", "365.00", currency="GBP", due_date=DUE)
    (reminder,) = send(owner, day(30))
    assert (reminder.currency, reminder.penalty) == ("GBP", Decimal("3.65"))
    body = Email.objects.get(kind="payment_reminder").body_text
    assert "3,65\xa0£" in body and "40,00\xa0€" in body
    # The EPC QR code is for euro transfers only.
    assert Email.objects.get(kind="payment_reminder").attachments == []
    assert "QR code" not in body


# --- Recipients, audit ----------------------------------------------------------------------


def test_the_owner_and_every_billing_contact_receive_it(owner, due, manager):
    BillingContactFactory(organisation=owner.organisation, email="dg@example.com")
    send(owner, day(1))
    emails = Email.objects.filter(kind="payment_reminder")
    assert sorted(emails.values_list("to", flat=True)) == [
        "compta@example.com",
        "dg@example.com",
        "owner@example.com",
    ]
    assert {e.organisation_id for e in emails} == {owner.organisation.pk}
    event = AuditEvent.objects.get(action="payment_reminder.sent")
    assert event.organisation == owner.organisation and event.actor_label == "system"
    assert event.after["number"] == "INV-10680" and event.after["stage"] == 1
    assert event.after["amount_due"] == "1200.00" and event.after["penalty"] == "0.40"
    assert sorted(event.after["recipients"]) == sorted(emails.values_list("to", flat=True))


def test_the_owner_sees_the_reminder_in_the_accounts_activity(owner, due):
    from accounts.selectors import recent_activity

    send(owner, day(1))
    (entry,) = [e for e in recent_activity(organisation=owner.organisation)]
    assert entry["what"] == "Relance de paiement envoyée"
    assert entry["detail"] == "INV-10680, reste à payer 1\xa0200,00\xa0€"


def test_emails_leave_after_commit(owner, due, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send(owner, day(1))
    assert sorted(m.to[0] for m in mail.outbox) == ["compta@example.com", "owner@example.com"]
    assert Email.objects.filter(kind="payment_reminder", status="sent").count() == 2


# --- What gets nothing ----------------------------------------------------------------------


def test_a_payment_covering_the_invoice_stops_the_reminders(owner, due):
    send(owner, day(1))
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("1200.00"),
        currency="EUR",
        received_on=day(2),
        invoices=[due],
        actor=None,
    )
    assert send(owner, day(15)) == [] and send(owner, day(30)) == []
    assert Reminder.objects.count() == 1


def test_a_partial_payment_does_not_stop_them(owner, due):
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("1199.99"),
        currency="EUR",
        received_on=day(2),
        invoices=[due],
        actor=None,
    )
    (reminder,) = send(owner, day(15))
    assert reminder.amount_due == Decimal("0.01")


def test_void_paid_and_credit_notes_get_nothing(owner, due):
    credit_note_issue(invoice=due, actor=None, reason="Facture émise en double")
    assert send(owner, day(30)) == []
    assert not Email.objects.filter(kind="payment_reminder").exists()


def test_a_closed_account_gets_nothing(owner, due):
    owner.organisation.status = "closed"
    owner.organisation.save()
    assert send(owner, day(1)) == []


def test_an_account_without_anyone_to_write_to_gets_nothing_yet(organisation):
    invoice(organisation, "INV-10680", "1200.00", due_date=DUE)
    assert reminders_send(organisation_ids=[organisation.pk], today=day(1)) == []
    assert not Reminder.objects.exists()


def test_only_the_accounts_named_are_sent(owner, due, other_owner):
    invoice(other_owner.organisation, "INV-10690", "500.00", due_date=DUE)
    assert [r.invoice.number for r in send(owner, day(1))] == ["INV-10680"]


# --- Idempotence ----------------------------------------------------------------------------


def test_running_twice_sends_nothing_twice(owner, due):
    assert len(send(owner, day(1))) == 1
    assert send(owner, day(1)) == []
    assert send(owner, day(2)) == []
    assert Reminder.objects.count() == 1
    assert Email.objects.filter(kind="payment_reminder").count() == 2
    assert AuditEvent.objects.filter(action="payment_reminder.sent").count() == 1


def test_the_database_refuses_a_second_reminder_of_a_stage(owner, due):
    from django.db import IntegrityError, transaction

    send(owner, day(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            organisation=owner.organisation,
            invoice=due,
            stage=1,
            sent_on=day(1),
            amount_due=Decimal("1.00"),
            currency="EUR",
            penalty_rate=Decimal("12.15"),
            penalty=Decimal(0),
            indemnity=Decimal(0),
            recipients=1,
        )


# --- Pause ----------------------------------------------------------------------------------


def test_a_paused_account_gets_nothing_until_resumed(owner, due, support_user):
    reminders_pause(organisation=owner.organisation, reason="Litige en cours", actor=support_user)
    assert send(owner, day(1)) == [] and send(owner, day(15)) == []
    reminders_resume(organisation=owner.organisation, reason="Litige réglé", actor=support_user)
    assert not ReminderPause.objects.exists()
    # Only the latest due stage, not the ones missed while paused.
    assert [r.stage for r in send(owner, day(16))] == [15]
    paused, resumed = AuditEvent.objects.filter(action__startswith="payment_reminders.").order_by(
        "pk"
    )
    assert (paused.action, paused.actor_label, paused.after) == (
        "payment_reminders.paused",
        "support: Léa Moreau",
        {"reason": "Litige en cours"},
    )
    assert resumed.action == "payment_reminders.resumed"
    assert resumed.before["pause_reason"] == "Litige en cours"
    assert resumed.after == {"reason": "Litige réglé"}


def test_pause_and_resume_refuse_what_changes_nothing(owner, support_user):
    organisation = owner.organisation
    with pytest.raises(ValidationError) as refused:
        reminders_pause(organisation=organisation, reason="  ", actor=support_user)
    assert "reason" in refused.value.message_dict
    with pytest.raises(ValidationError, match="ne sont pas suspendues"):
        reminders_resume(organisation=organisation, reason="Reprise", actor=support_user)
    reminders_pause(organisation=organisation, reason="Litige", actor=support_user)
    with pytest.raises(ValidationError, match="déjà suspendues"):
        reminders_pause(organisation=organisation, reason="Encore", actor=support_user)
    assert ReminderPause.objects.get().reason == "Litige"
    assert AuditEvent.objects.filter(action__startswith="payment_reminders.").count() == 1


# --- QR code, language ----------------------------------------------------------------------


def test_the_attached_qr_code_pays_what_the_reminder_asks(
    owner, due, django_capture_on_commit_callbacks
):
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("200.00"),
        currency="EUR",
        received_on=DUE,
        invoices=[due],
        actor=None,
    )
    with django_capture_on_commit_callbacks(execute=True):
        send(owner, day(1))
    message = next(m for m in mail.outbox if m.to == ["owner@example.com"])
    ((filename, content, mimetype),) = message.attachments
    assert (filename, mimetype) == ("INV-10680-qr.png", "image/png")
    (result,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(content)))
    lines = result.text.split("\n")
    assert lines[:2] == ["BCD", "002"] and lines[3] == "SCT"
    assert lines[4:7] == ["AGRIFRPPXXX", "Palmarès Logiciels SAS", "FR7630006000011234567890189"]
    assert Decimal(lines[7].removeprefix("EUR")) == Decimal("1000.00")
    assert lines[9] == "RF73INV10680"
    assert "INV-10680-qr.png" in message.body


def test_an_english_account_reads_it_in_english(owner, due):
    owner.organisation.language = "en"
    owner.organisation.save()
    send(owner, day(15))
    email = Email.objects.get(kind="payment_reminder", to="owner@example.com")
    assert email.subject == "Reminder: invoice INV-10680 was due on 14 February 2026"
    assert "Late payment penalties to date: €5.99" in email.body_text
    assert "€40.00" in email.body_text and "12.15%" in email.body_text
    assert email.from_email.startswith("Billing")


# --- Direct debit ---------------------------------------------------------------------------


def test_an_invoice_being_collected_by_direct_debit_gets_no_reminder(owner, due):
    from payments.models import Collection

    from .mandates import sign_and_confirm

    sign_and_confirm(owner)
    collection = Collection.objects.get(invoice=due)
    for status in (Collection.Status.PLANNED, Collection.Status.NOTIFIED):
        Collection.objects.filter(pk=collection.pk).update(status=status)
        assert send(owner, day(1)) == []
    # The bank returned it: the invoice is owed again, and its reminders resume.
    Collection.objects.filter(pk=collection.pk).update(status=Collection.Status.RETURNED)
    assert [r.stage for r in send(owner, day(1))] == [1]
