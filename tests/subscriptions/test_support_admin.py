"""Support resolves the "contact support" cases from the admin alone (a Support-group
staff member, not a superuser)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Organisation
from invoices.models import Invoice
from subscriptions import services
from subscriptions.models import Confirmation, Subscription

from .conftest import emails_to


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def _url(name, organisation, *args):
    return reverse(f"admin:accounts_organisation_{name}", args=[organisation.pk, *args])


def test_account_page_shows_subscription_confirmations_and_invoices(
    support, owner, subscription, plans
):
    services.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )
    html = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    for text in (
        "Professionnel",
        "Confirmations en attente",
        "owner@example.com",
        "Renvoyer l'e-mail",
        "Changer le forfait",
    ):
        assert text in html


def test_downgrade_takes_effect_at_the_renewal(support, owner, subscription, plans):
    response = support.post(
        _url("change_plan", owner.organisation),
        {"plan": plans["essentiel"].pk, "reason": "Demande écrite du client"},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.plan.code, subscription.next_plan.code) == ("professionnel", "essentiel")
    event = AuditEvent.objects.get(action="plan.changed")
    assert event.actor_label == "support: Léa Moreau"
    assert event.after["reason"] == "Demande écrite du client"
    assert not Invoice.objects.exists()
    # At the renewal, the new plan is what gets invoiced.
    services.renewal_issue(subscription=subscription, today=subscription.period_end)
    subscription.refresh_from_db()
    assert subscription.plan.code == "essentiel" and subscription.next_plan is None
    assert "Essentiel" in Invoice.objects.get().lines.get().description


def test_immediate_downgrade_is_refused(support, owner, subscription, plans):
    response = support.post(
        _url("change_plan", owner.organisation),
        {"plan": plans["essentiel"].pk, "immediately": "on", "reason": "x"},
    )
    assert response.status_code == 200
    assert "prend effet au renouvellement" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.plan.code == "professionnel" and subscription.next_plan is None


def test_immediate_upgrade_by_support_invoices_the_proration(support, owner, subscription, plans):
    support.post(
        _url("change_plan", owner.organisation),
        {"plan": plans["entreprise"].pk, "immediately": "on", "reason": "Geste commercial"},
    )
    subscription.refresh_from_db()
    assert subscription.plan.code == "entreprise"
    invoice = Invoice.objects.get()
    assert invoice.lines.count() == 2 and invoice.total > 0


def test_reason_is_required(support, owner, subscription, plans):
    response = support.post(
        _url("change_plan", owner.organisation), {"plan": plans["essentiel"].pk, "reason": ""}
    )
    assert response.status_code == 200
    subscription.refresh_from_db()
    assert subscription.next_plan is None


def _close(owner):
    link = services.closure_request(organisation=owner.organisation, actor=owner.user)
    return services.closure_confirm(token=link.token)


def test_support_reopens_a_closed_account_within_the_grace_period(support, owner, subscription):
    _close(owner)
    html = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    assert "Rouvrir le compte" in html
    response = support.post(
        _url("reopen", owner.organisation),
        {"reason": "Fermeture par erreur, confirmé par téléphone"},
    )
    assert response.status_code == 302
    owner.organisation.refresh_from_db()
    assert owner.organisation.status == Organisation.Status.ACTIVE
    assert Subscription.objects.get().status == Subscription.Status.ACTIVE


def test_reopen_after_anonymisation_is_refused(support, owner, subscription):
    closure = _close(owner)
    services.account_anonymise(
        organisation=owner.organisation, now=closure.anonymise_after + timedelta(seconds=1)
    )
    response = support.post(_url("reopen", owner.organisation), {"reason": "Trop tard"})
    assert response.status_code == 200
    assert "anonymisées" in response.content.decode()
    owner.organisation.refresh_from_db()
    assert owner.organisation.is_closed


def test_support_resends_a_pending_confirmation(support, owner, subscription, plans):
    services.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )
    first = Confirmation.objects.get()
    response = support.post(_url("resend_confirmation", owner.organisation, first.pk))
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == Confirmation.Status.SUPERSEDED
    fresh = Confirmation.objects.get(status=Confirmation.Status.PENDING)
    assert (fresh.plan, fresh.requested_by) == (plans["entreprise"], owner.user)
    assert len(emails_to("owner@example.com", "upgrade_request")) == 2
    assert AuditEvent.objects.filter(action="confirmation.resent").count() == 1


def test_resend_of_a_used_confirmation_is_refused(support, owner, subscription, plans):
    link = services.upgrade_request(
        organisation=owner.organisation, plan=plans["entreprise"], actor=owner.user
    )
    services.upgrade_confirm(token=link.token, now=timezone.now())
    used = Confirmation.objects.get()
    support.post(_url("resend_confirmation", owner.organisation, used.pk))
    assert Confirmation.objects.count() == 1
    assert len(emails_to("owner@example.com", "upgrade_request")) == 1


def test_staff_outside_the_support_group_cannot_act(client, owner, subscription, plans):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True))
    response = client.post(
        _url("change_plan", owner.organisation), {"plan": plans["essentiel"].pk, "reason": "x"}
    )
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.next_plan is None


def test_program_manager_is_sent_to_the_admin_login(client, manager, owner):
    client.force_login(manager.user)
    response = client.get(_url("change_plan", owner.organisation))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
