"""The services tell the host what changed: each change's webhooks reach the receiver,
signed, once committed."""

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone
from standardwebhooks import Webhook

from accounts.services import ownership_transfer
from invoices.services import invoice_issue, invoice_mark_paid
from invoices.totals import LineSpec
from payments.services import payment_record, reminders_send
from subscriptions import services as subscription_services
from subscriptions.models import Subscription
from tests.payments.conftest import invoice as late_invoice
from webhooks.models import WebhookEvent


def _received(receiver, endpoint):
    """The events received, each verified with the endpoint's secret."""
    return [Webhook(endpoint.secret).verify(r["body"], r["headers"]) for r in receiver.received]


def _issue(organisation, amount="100"):
    return invoice_issue(
        organisation=organisation,
        lines=[LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal(amount))],
    )


def test_closure_requested_closed_and_reopened(
    receiver, endpoint, owner, subscription, support_user, django_capture_on_commit_callbacks
):
    organisation = owner.organisation
    with django_capture_on_commit_callbacks(execute=True):
        link = subscription_services.closure_request(organisation=organisation, actor=owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_services.closure_confirm(token=link.token)
    with django_capture_on_commit_callbacks(execute=True):
        subscription_services.account_reopen(
            organisation=organisation, actor=support_user, reason="Erreur du client"
        )

    events = _received(receiver, endpoint)
    assert [e["type"] for e in events] == [
        "account.closure_requested",
        "account.closed",
        "account.reopened",
    ]
    account = {"id": organisation.pk, "name": organisation.name}
    assert all(e["data"]["account"] == account for e in events)
    assert events[0]["data"]["requested_by"] == owner.user.email


def test_owner_changed(receiver, endpoint, owner, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ownership_transfer(
            organisation=owner.organisation,
            new_owner_membership_id=manager.pk,
            actor=owner.user,
        )
    (event,) = _received(receiver, endpoint)
    assert event["type"] == "account.owner_changed"
    assert event["data"]["previous_owner"] == owner.user.email
    assert event["data"]["owner"] == manager.user.email


def test_invoice_issued_payment_recorded_and_invoice_paid(
    receiver, endpoint, owner, django_capture_on_commit_callbacks
):
    organisation = owner.organisation
    with django_capture_on_commit_callbacks(execute=True):
        invoice = _issue(organisation)
    with django_capture_on_commit_callbacks(execute=True):
        payment_record(
            organisation=organisation,
            amount=invoice.total,
            currency=invoice.currency,
            received_on=timezone.localdate(),
            invoices=[invoice],
        )

    events = _received(receiver, endpoint)
    types = [e["type"] for e in events]
    assert types[0] == "invoice.issued"
    assert sorted(types[1:]) == ["invoice.paid", "payment.recorded"]
    issued = events[0]["data"]["invoice"]
    assert issued["number"] == invoice.number and issued["status"] == "open"
    assert Decimal(issued["total"]) == invoice.total
    paid = next(e for e in events if e["type"] == "invoice.paid")["data"]["invoice"]
    assert paid["status"] == "paid" and paid["paid_on"] == timezone.localdate().isoformat()
    payment = next(e for e in events if e["type"] == "payment.recorded")["data"]["payment"]
    assert Decimal(payment["amount"]) == invoice.total
    assert list(payment["invoices"]) == [invoice.number]


def test_marking_an_invoice_paid_twice_tells_the_host_once(
    receiver, endpoint, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invoice = _issue(owner.organisation)
        invoice_mark_paid(invoice=invoice)
        invoice_mark_paid(invoice=invoice)
    types = [e["type"] for e in _received(receiver, endpoint)]
    assert types == ["invoice.issued", "invoice.paid"]
    assert WebhookEvent.objects.filter(type="invoice.paid").count() == 1


def test_upgrade_confirmed(
    receiver, endpoint, owner, subscription, plans, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        link = subscription_services.upgrade_request(
            organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
        )
    with django_capture_on_commit_callbacks(execute=True):
        subscription_services.upgrade_confirm(token=link.token)
    events = _received(receiver, endpoint)
    upgraded = next(e for e in events if e["type"] == "subscription.upgraded")
    assert upgraded["data"]["previous_plan"] == "professionnel"
    assert upgraded["data"]["plan"] == "entreprise"
    assert "invoice.issued" in [e["type"] for e in events]  # the prorated difference


def _ended(subscription, **changes):
    today = timezone.localdate()
    Subscription.objects.filter(pk=subscription.pk).update(
        period_start=today - timedelta(days=366), period_end=today - timedelta(days=1), **changes
    )
    subscription.refresh_from_db()
    return subscription


def test_renewed(receiver, endpoint, subscription, django_capture_on_commit_callbacks):
    ended = _ended(subscription)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = subscription_services.renewal_issue(subscription=ended)
        assert subscription_services.renewal_issue(subscription=ended) is None
    events = _received(receiver, endpoint)
    assert [e["type"] for e in events] == ["invoice.issued", "subscription.renewed"]
    renewed = events[1]["data"]
    assert renewed["plan"] == "professionnel" and renewed["invoice"] == invoice.number
    assert renewed["period_start"] == (timezone.localdate() - timedelta(days=1)).isoformat()


def test_downgraded_at_the_renewal(
    receiver, endpoint, subscription, plans, django_capture_on_commit_callbacks
):
    ended = _ended(subscription, next_plan=plans["essentiel"])
    with django_capture_on_commit_callbacks(execute=True):
        subscription_services.renewal_issue(subscription=ended)
    events = {e["type"]: e["data"] for e in _received(receiver, endpoint)}
    assert events["subscription.downgraded"]["previous_plan"] == "professionnel"
    assert events["subscription.downgraded"]["plan"] == "essentiel"
    assert events["subscription.renewed"]["plan"] == "essentiel"


def test_overdue_at_each_late_reminder_not_at_the_courtesy_one(
    receiver, endpoint, owner, settings, django_capture_on_commit_callbacks
):
    settings.PAYMENT_REMINDER_OFFSETS = [-3, 1, 15]
    due = date(2026, 2, 14)
    late_invoice(owner.organisation, "INV-10680", "1200.00", due_date=due)
    with django_capture_on_commit_callbacks(execute=True):
        for offset in (-3, 1, 15):
            reminders_send(
                organisation_ids=[owner.organisation.pk], today=due + timedelta(days=offset)
            )
    events = _received(receiver, endpoint)
    assert [e["type"] for e in events] == ["invoice.overdue", "invoice.overdue"]
    assert [e["data"]["days_late"] for e in events] == [1, 15]
    assert {e["data"]["invoice"]["number"] for e in events} == {"INV-10680"}
    assert Decimal(events[1]["data"]["amount_due"]) >= Decimal("1200.00")
