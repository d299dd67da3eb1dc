"""What people see of payment reminders: support pauses and resumes them from the account
page; the owner's Factures tab shows what is overdue."""

from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from payments.models import Reminder, ReminderPause
from payments.services import payment_record, reminders_send
from tests.factories import UserFactory

from .conftest import invoice

TAB = "/billing/invoices/"


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def account_page(organisation) -> str:
    return reverse("admin:accounts_organisation_change", args=[organisation.pk])


# --- Support: pause and resume --------------------------------------------------------------


def test_support_pauses_and_resumes_an_accounts_reminders(owner, support, support_user):
    organisation = owner.organisation
    today = timezone.localdate()
    invoice(
        organisation,
        "INV-10680",
        "1200.00",
        issue_date=date(2026, 1, 15),
        due_date=today - timedelta(days=1),
    )
    page = text(support.get(account_page(organisation)))
    assert "Suspendre les relances" in page and "actives" in page
    pause = reverse("admin:payments_reminders_pause", args=[organisation.pk])
    assert pause in page

    form = text(support.get(pause))
    assert "Suspendre les relances de paiement de Festival International du Film de Lyon" in form

    response = support.post(pause, {"reason": "Litige sur la facture INV-10680"}, follow=True)
    assert response.redirect_chain[-1][0] == account_page(organisation)
    page = text(response)
    assert "Relances suspendues" in page
    assert "suspendues depuis le" in page and "support@example.com" in page
    assert "Litige sur la facture INV-10680" in page and "Reprendre les relances" in page
    assert ReminderPause.objects.get(organisation=organisation).actor == support_user
    assert reminders_send(organisation_ids=[organisation.pk]) == []

    resume = reverse("admin:payments_reminders_resume", args=[organisation.pk])
    response = support.post(resume, {"reason": "Litige réglé"}, follow=True)
    assert "Relances reprises." in text(response)
    assert not ReminderPause.objects.exists()
    assert len(reminders_send(organisation_ids=[organisation.pk])) == 1
    actions = AuditEvent.objects.filter(action__startswith="payment_reminders.").order_by("pk")
    assert [(e.action, e.actor_label) for e in actions] == [
        ("payment_reminders.paused", "support: Léa Moreau"),
        ("payment_reminders.resumed", "support: Léa Moreau"),
    ]
    assert actions[0].ip_address == "127.0.0.1"

    # The reminders sent, listed for the account.
    listing = text(
        support.get(
            reverse("admin:payments_reminder_changelist")
            + f"?organisation__id__exact={organisation.pk}"
        )
    )
    assert "INV-10680" in listing and "J+1 après l'échéance" in listing


def test_a_pause_without_reason_changes_nothing(owner, support):
    pause = reverse("admin:payments_reminders_pause", args=[owner.organisation.pk])
    response = support.post(pause, {"reason": "   "})
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in text(response)
    assert not ReminderPause.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="payment_reminders.").exists()


def test_resuming_what_is_not_paused_is_refused_on_the_form(owner, support):
    resume = reverse("admin:payments_reminders_resume", args=[owner.organisation.pk])
    response = support.post(resume, {"reason": "Reprise"})
    assert response.status_code == 200
    assert "Les relances de ce compte ne sont pas suspendues." in text(response)


def test_staff_outside_support_may_not_pause(owner, client):
    client.force_login(UserFactory(is_staff=True))
    pause = reverse("admin:payments_reminders_pause", args=[owner.organisation.pk])
    assert client.post(pause, {"reason": "x"}).status_code == 403
    assert not ReminderPause.objects.exists()


def test_an_unknown_account_is_404(support):
    assert support.get(reverse("admin:payments_reminders_pause", args=[999999])).status_code == 404


def test_reminders_are_read_only_in_the_console(owner, support):
    organisation = owner.organisation
    invoice(organisation, "INV-10680", "1200.00", due_date=timezone.localdate() - timedelta(days=1))
    (reminder,) = reminders_send(organisation_ids=[organisation.pk])
    change = reverse("admin:payments_reminder_change", args=[reminder.pk])
    assert support.get(change).status_code == 200
    assert support.post(change, {"stage": 30}).status_code == 403
    assert support.get(reverse("admin:payments_reminder_add")).status_code == 403
    assert Reminder.objects.get().stage == 1


# --- The owner's Factures tab ---------------------------------------------------------------


def test_the_tab_shows_the_overdue_total_since_the_oldest_due_date(owner, client_for):
    organisation = owner.organisation
    today = timezone.localdate()
    oldest = today - timedelta(days=40)
    invoice(
        organisation,
        "INV-10680",
        "1200.00",
        issue_date=oldest - timedelta(days=30),
        due_date=oldest,
    )
    invoice(
        organisation, "INV-10681", "34.56", issue_date=oldest, due_date=today - timedelta(days=2)
    )
    invoice(organisation, "INV-10682", "999.00", issue_date=today, due_date=today)  # due today
    paid = invoice(
        organisation,
        "INV-10683",
        "500.00",
        issue_date=oldest - timedelta(days=60),
        due_date=oldest - timedelta(days=30),
    )
    payment_record(
        organisation=organisation,
        amount=Decimal("500.00"),
        currency="EUR",
        received_on=today,
        invoices=[paid],
        actor=None,
    )
    page = client_for(owner).get(TAB).content.decode()
    from django.utils import translation

    from billing_portal.formatting import long_date

    with translation.override("fr"):
        expected = f"1\xa0234,56\xa0€ en retard depuis le {long_date(oldest)}"
    assert 'data-testid="overdue-total"' in page
    assert expected in unescape(page)


def test_the_tab_says_nothing_when_nothing_is_overdue(owner, client_for):
    today = timezone.localdate()
    invoice(owner.organisation, "INV-10680", "1200.00", issue_date=today, due_date=today)
    page = client_for(owner).get(TAB).content.decode()
    assert "overdue-total" not in page and "en retard depuis" not in page


def test_the_tab_reads_the_overdue_total_in_one_query(owner, client_for, django_assert_num_queries):
    from invoices.selectors import overdue_summary

    today = timezone.localdate()
    for n in range(5):
        invoice(
            owner.organisation,
            f"INV-{10680 + n}",
            "100.00",
            currency="EUR" if n else "GBP",
            due_date=today - timedelta(days=n + 1),
        )
    with django_assert_num_queries(1):
        overdue = overdue_summary(organisation=owner.organisation, today=today)
    assert [(o.amount, o.currency) for o in overdue] == [
        (Decimal("400.00"), "EUR"),
        (Decimal("100.00"), "GBP"),
    ]
    assert overdue[0].since == today - timedelta(days=5)


def test_an_english_account_reads_the_overdue_total_in_english(owner, client_for):
    owner.organisation.language = "en"
    owner.organisation.save()
    today = timezone.localdate()
    invoice(
        owner.organisation,
        "INV-10680",
        "1234.56",
        issue_date=today - timedelta(days=40),
        due_date=today - timedelta(days=10),
    )
    client = client_for(owner)
    page = unescape(client.get(TAB, HTTP_ACCEPT_LANGUAGE="en").content.decode())
    from django.utils import translation
    from django.utils.formats import date_format

    with translation.override("en"):
        since = date_format(today - timedelta(days=10), "j F Y")
    assert f"€1,234.56 overdue since {since}" in page
