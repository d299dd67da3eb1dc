"""One real email of every kind the product sends, each made by the flow that sends it
(a service call or a request), for the tests of the email layout (tests/emails/test_layout.py,
tests/browser/test_emails.py).

`KINDS` must name every email: test_layout checks it against the templates, so a new email
needs its sample here.
"""

import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import (
    ownership_transfer,
    two_factor_disable,
    two_factor_enable,
    two_factor_enrol_start,
    two_factor_recovery_regenerate,
    two_factor_reset,
    two_factor_verify,
)
from emails.models import Email
from emails.services import email_content
from invoices.services import credit_note_issue
from payments.services import (
    collections_prenotify,
    payment_record,
    reminders_send,
    statement_import,
)
from subscriptions import services as subscriptions
from support.models import SupportRequest
from support.services import support_request_create, support_request_reply
from tests.factories import PASSWORD, BillingContactFactory, SubscriptionFactory
from tests.payments.conftest import invoice
from tests.payments.direct_debit import collection, mandate, returned, statement
from tests.payments.mandates import latest_token, sign, sign_and_confirm
from tests.subscriptions.conftest import link_token
from tests.two_factor import totp_code

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _invoice_issued(owner, **_):
    from invoices.services import invoice_issue
    from invoices.totals import LineSpec

    BillingContactFactory(organisation=owner.organisation, email="compta@example.com")
    lines = [
        LineSpec(
            description="Pack 1 000 candidatures", quantity=Decimal(1), unit_price=Decimal(850)
        )
    ]
    return invoice_issue(organisation=owner.organisation, lines=lines)


def _credit_note_issued(owner, **_):
    issued = _invoice_issued(owner)
    credit_note_issue(invoice=issued, actor=owner.user, reason="Erreur de quantité")


def _payment_received(owner, **_):
    due = invoice(owner.organisation, "INV-10680", "1200.00")
    payment_record(
        organisation=owner.organisation,
        amount=Decimal("1200.00"),
        currency="EUR",
        received_on=timezone.localdate(),
        payer_name="Festival International du Film de Lyon",
        invoices=[due],
    )


def _payment_reminder(owner, **_):
    today = timezone.localdate()
    invoice(owner.organisation, "INV-10680", "1200.00", due_date=today - timedelta(days=15))
    reminders_send(organisation_ids=[owner.organisation.pk], today=today)


def _renewal_reminder(owner, plans, **_):
    subscription = SubscriptionFactory(
        organisation=owner.organisation,
        plan=plans["professionnel"],
        period_start=timezone.localdate() - timedelta(days=335),
        period_end=timezone.localdate() + timedelta(days=30),
    )
    subscriptions.renewal_remind(subscription=subscription)


def _subscribed(owner, plans):
    return SubscriptionFactory(organisation=owner.organisation, plan=plans["essentiel"])


def _upgrade_request(owner, plans, **_):
    _subscribed(owner, plans)
    subscriptions.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )


def _upgrade_confirmed(owner, plans, **_):
    _upgrade_request(owner, plans)
    email = Email.objects.filter(kind="upgrade_request").latest("pk")
    subscriptions.upgrade_confirm(token=link_token(email))


def _closure_request(owner, plans, **_):
    _subscribed(owner, plans)
    subscriptions.closure_request(organisation=owner.organisation, actor=owner.user)


def _account_closed(owner, plans, **_):
    _closure_request(owner, plans)
    email = Email.objects.filter(kind="closure_request").latest("pk")
    subscriptions.closure_confirm(token=link_token(email))


def _account_reopened(owner, plans, support_user, **_):
    _account_closed(owner, plans)
    subscriptions.account_reopen(
        organisation=owner.organisation, actor=support_user, reason="Fermé par erreur"
    )


def _plan_change_scheduled(owner, support_user, plans, **_):
    SubscriptionFactory(organisation=owner.organisation, plan=plans["professionnel"])
    subscriptions.plan_change_by_support(
        organisation=owner.organisation,
        plan=plans["essentiel"],
        actor=support_user,
        reason="Demandé par téléphone",
    )


def _ownership(owner, manager, **_):
    ownership_transfer(
        organisation=owner.organisation,
        new_owner_membership_id=manager.pk,
        actor=owner.user,
    )


def _mandate_request(owner, **_):
    sign(owner)


def _mandate_confirmed(owner, **_):
    sign_and_confirm(owner)


def _mandate_revoke_request(owner, **_):
    sign_and_confirm(owner)
    subscriptions.mandate_revoke_request(organisation=owner.organisation, actor=owner.user)


def _mandate_revoked(owner, **_):
    _mandate_revoke_request(owner)
    subscriptions.mandate_revoke_confirm(token=latest_token("mandate_revoke_request"))


def _direct_debit_notice(owner, **_):
    today = timezone.localdate()
    debit = mandate(owner.organisation)
    due = invoice(owner.organisation, "INV-10682", "7200.00")
    collection(due, debit, collect_on=today + timedelta(days=14))
    collections_prenotify(organisation=owner.organisation, today=today)


def _exported(owner, *numbers):
    debit = mandate(owner.organisation)
    return [
        collection(invoice(owner.organisation, number, "1200.00"), debit, status="exported")
        for number in numbers
    ]


def _direct_debit_returned(owner, **_):
    (sent,) = _exported(owner, "INV-10680")
    data = statement(returned(sent, "AM04"), message_id="D1")
    statement_import(data=data, file_name="releve.xml", actor=None)


def _direct_debit_suspended(owner, **_):
    first, second = _exported(owner, "INV-10680", "INV-10682")
    for number, sent in enumerate((first, second)):
        data = statement(returned(sent, "AM04"), message_id=f"D{number}")
        statement_import(data=data, file_name="releve.xml", actor=None)


def _support_request(manager, **_):
    support_request_create(
        user=manager.user,
        subject="Facture de mars",
        message="Bonjour,\nLe bon de commande manque sur la facture.",
        topic=SupportRequest.Topic.GENERAL,
    )


def _support_reply(manager, support_user, **_):
    _support_request(manager)
    support_request_reply(
        support_request=SupportRequest.objects.get(),
        message="Bonjour,\nC'est corrigé : https://example.com/aide",
        actor=support_user,
    )


def _support_received(**_):
    support_request_create(
        name="Visiteur", email="visitor@example.org", subject="Tarifs", message="Bonjour ?"
    )


def _two_factor_on(owner, **_):
    device = two_factor_enrol_start(user=owner.user)
    two_factor_enable(user=owner.user, code=totp_code(device.bin_key, time.time()))


def _two_factor_recovery_regenerated(owner, **_):
    _two_factor_on(owner)
    key = TOTPDevice.objects.get(user=owner.user).bin_key
    # The next step's code: the one that enabled it is spent.
    proof = two_factor_verify(user=owner.user, code=totp_code(key, time.time() + 30))
    two_factor_recovery_regenerate(user=owner.user, proof=proof)


def _two_factor_disabled(owner, **_):
    _two_factor_on(owner)
    two_factor_disable(user=owner.user, password=PASSWORD)


def _two_factor_reset(owner, support_user, **_):
    _two_factor_on(owner)
    two_factor_reset(user=owner.user, actor=support_user, reason="Téléphone perdu")


def _password_reset(owner, **_):
    Client().post(reverse("password_reset"), {"email": owner.user.email})


SAMPLES = {
    "account_closed": _account_closed,
    "account_reopened": _account_reopened,
    "closure_request": _closure_request,
    "credit_note_issued": _credit_note_issued,
    "direct_debit_notice": _direct_debit_notice,
    "direct_debit_returned": _direct_debit_returned,
    "direct_debit_suspended": _direct_debit_suspended,
    "invoice_issued": _invoice_issued,
    "mandate_confirmed": _mandate_confirmed,
    "mandate_request": _mandate_request,
    "mandate_revoke_request": _mandate_revoke_request,
    "mandate_revoked": _mandate_revoked,
    "ownership_given": _ownership,
    "ownership_received": _ownership,
    "password_reset": _password_reset,
    "payment_received": _payment_received,
    "payment_reminder": _payment_reminder,
    "plan_change_scheduled": _plan_change_scheduled,
    "renewal_reminder": _renewal_reminder,
    "support_acknowledgement": _support_request,
    "support_received": _support_received,
    "support_reply": _support_reply,
    "support_request": _support_request,
    "two_factor_disabled": _two_factor_disabled,
    "two_factor_enabled": _two_factor_on,
    "two_factor_recovery_regenerated": _two_factor_recovery_regenerated,
    "two_factor_reset": _two_factor_reset,
    "upgrade_confirmed": _upgrade_confirmed,
    "upgrade_request": _upgrade_request,
}
KINDS = sorted(SAMPLES)


def template_kinds() -> set[str]:
    """Every email the templates define (emails/<kind>_subject.txt), and the password reset."""
    found = {p.name.removesuffix("_subject.txt") for p in TEMPLATES.glob("emails/*_subject.txt")}
    return found | {"password_reset"}


def sample(kind: str, **people) -> Email:
    """The email of `kind`, sent by its flow; `people`: owner, manager, support_user, plans."""
    SAMPLES[kind](**people)
    email = Email.objects.filter(kind=kind).order_by("pk").last()
    assert email is not None, f"the flow of {kind} sent no email of that kind"
    # An email rendered when sent (a receipt): what its send will write, not saved.
    for field, value in email_content(email).items():
        setattr(email, field, value)
    return email
