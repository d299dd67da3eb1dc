"""The services the host's API calls in subscriptions: account creation, closure without a
link, plan change and currency change."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, Organisation
from emails.models import Email
from invoices.models import Invoice
from subscriptions.models import AccountClosure, Subscription
from subscriptions.services import (
    account_close,
    account_create,
    account_currency_change,
    plan_change_by_host,
)


def _create(plan, actor, **overrides):
    fields = {
        "name": "Festival de Cannes",
        "address_line1": "1 boulevard de la Croisette",
        "postal_code": "06400",
        "city": "Cannes",
        "country": "FR",
        "siren": "732829320",
        "currency": "EUR",
        "language": "fr",
        "plan": plan,
        "owner_email": "anne@example.com",
        "owner_first_name": "Anne",
        "owner_last_name": "Durand",
        "actor": actor,
    }
    fields.update(overrides)
    return account_create(**fields)


def test_a_new_account_is_subscribed_and_invoiced(plans, support_user, today):
    subscription = _create(plans["essentiel"], support_user)
    organisation = subscription.organisation
    assert (subscription.period_start, subscription.period_end.year) == (today, today.year + 1)
    invoice = Invoice.objects.get(organisation=organisation)
    assert invoice.period_start == today and invoice.buyer_siren == "732829320"
    assert organisation.memberships.get().user.email == "anne@example.com"
    assert Email.objects.filter(to="anne@example.com").exists()
    assert AuditEvent.objects.filter(organisation=organisation, action="account.created").exists()


def test_every_error_at_once_and_nothing_created(plans, support_user):
    with pytest.raises(ValidationError) as error:
        _create(plans["essentiel"], support_user, name="", city="", siren="", currency="XYZ")
    assert {"name", "city", "siren", "plan"} <= set(error.value.message_dict)
    assert not Organisation.objects.exists()


def test_closing_without_a_link(plans, support_user):
    organisation = _create(plans["essentiel"], support_user).organisation
    closure = account_close(organisation=organisation, actor=support_user)
    organisation.refresh_from_db()
    assert organisation.is_closed and closure.requested_by == support_user
    assert Subscription.objects.get(organisation=organisation).status == "cancelled"
    assert AccountClosure.objects.filter(organisation=organisation).count() == 1
    with pytest.raises(ValidationError):
        account_close(organisation=organisation, actor=support_user)
    assert AccountClosure.objects.filter(organisation=organisation).count() == 1


def test_the_host_changes_the_plan_without_staff_rights_or_reason(plans, support_user):
    host = support_user
    host.is_staff = False
    organisation = _create(plans["professionnel"], host).organisation
    subscription = plan_change_by_host(
        organisation=organisation, plan=plans["essentiel"], actor=host
    )
    assert (subscription.plan.code, subscription.next_plan.code) == ("professionnel", "essentiel")
    subscription = plan_change_by_host(
        organisation=organisation, plan=plans["entreprise"], actor=host
    )
    assert subscription.plan.code == "entreprise" and subscription.next_plan is None
    assert Invoice.objects.filter(organisation=organisation).count() == 2
    event = AuditEvent.objects.filter(action="plan.changed").latest("pk")
    assert "reason" not in event.after and not event.actor_label.startswith("support:")


def test_the_currency_changes_only_before_any_invoice(plans, owner, support_user):
    Subscription.objects.create(
        organisation=owner.organisation,
        plan=plans["essentiel"],
        period_start=timezone.localdate(),
        period_end=timezone.localdate().replace(year=timezone.localdate().year + 1),
    )
    account_currency_change(organisation=owner.organisation, currency="usd", actor=support_user)
    owner.organisation.refresh_from_db()
    assert owner.organisation.currency == "USD"
    with pytest.raises(ValidationError) as error:
        account_currency_change(organisation=owner.organisation, currency="JPY", actor=support_user)
    assert "currency" in error.value.message_dict
