"""The broker never blocks a user: with Redis unreachable, changes succeed quickly and the
emails go out once it is back (the outbox sweep)."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.models import BillingContact, Membership
from billing_portal.celery import app
from emails import services as email_services
from emails.models import Email
from emails.tasks import email_sweep
from subscriptions.demo import seed_plans
from subscriptions.models import Confirmation
from tests.factories import SubscriptionFactory


@pytest.fixture
def broker_down(settings):
    """Point Celery at a closed port, as when Redis is stopped."""
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    app.conf.task_always_eager = False
    app.pool.force_close_all()
    yield
    app.conf.broker_url, app.conf.task_always_eager = saved
    app.pool.force_close_all()


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_contact_transfer_and_upgrade_succeed_fast_with_the_broker_down(
    client, owner, manager, broker_down, monkeypatch
):
    client.force_login(owner.user)
    response, elapsed = _timed(
        lambda: client.post(
            reverse("portal:contact_add"),
            {"first_name": "Claire", "last_name": "Dubois", "email": "compta@example.com"},
        )
    )
    assert response.status_code == 302 and elapsed < 2
    assert BillingContact.objects.filter(email="compta@example.com").exists()

    response, elapsed = _timed(
        lambda: client.post(reverse("portal:owner_change"), {"new_owner": manager.pk})
    )
    assert response.status_code == 302 and elapsed < 2
    assert Membership.objects.get(role="owner").pk == manager.pk
    pending = Email.objects.filter(status=Email.Status.PENDING)
    assert set(pending.values_list("to", flat=True)) == {"owner@example.com", "manager@example.com"}

    # The new owner asks for an upgrade: stored, its link emailed once the broker is back.
    plans = seed_plans()
    SubscriptionFactory(organisation=owner.organisation, plan=plans["professionnel"])
    client.force_login(manager.user)
    response, elapsed = _timed(
        lambda: client.post(reverse("portal:upgrade_request"), {"plan": "entreprise"})
    )
    assert response.status_code == 302 and elapsed < 2
    assert Confirmation.objects.filter(status=Confirmation.Status.PENDING).count() == 1

    # The broker comes back: the periodic sweep sends what was never delivered, once.
    app.conf.task_always_eager = True
    monkeypatch.setattr(
        email_services,
        "pending_email_ids",
        lambda older_than=timedelta(0), _f=email_services.pending_email_ids: _f(
            older_than=timedelta(0)
        ),
    )
    assert email_sweep() == 3
    assert email_sweep() == 0
    assert Email.objects.filter(status=Email.Status.SENT).count() == 3
