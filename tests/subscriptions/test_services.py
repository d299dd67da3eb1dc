import html
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory
from django.utils import timezone, translation

from accounts import services as account_services
from accounts.models import AuditEvent, BillingContact, Membership, Organisation, User
from billing_portal.formatting import long_date, money
from emails.models import Email
from invoices.models import ExchangeRate, Invoice
from subscriptions import pricing, services, tokens
from subscriptions.models import AccountClosure, Confirmation, PlanPrice, Subscription
from subscriptions.periods import one_year_after
from subscriptions.tokens import LinkError, LinkProblem
from tests.factories import InvoiceFactory, SubscriptionFactory

from .conftest import emails_to, link_token


def actions():
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def request_upgrade(owner, plans, code="entreprise"):
    return services.upgrade_request(
        organisation=owner.organisation, plan=plans[code], actor=owner.user, ip="203.0.113.9"
    )


# --- Upgrades -------------------------------------------------------------------------


def test_upgrade_request_changes_nothing_and_emails_a_link(owner, subscription, plans):
    link = request_upgrade(owner, plans)

    subscription.refresh_from_db()
    assert subscription.plan == plans["professionnel"]
    assert not Invoice.objects.exists()
    [email] = emails_to("owner@example.com", "upgrade_request")
    assert "Entreprise" in email.body_text
    # 265 days left: credit 4 356,16, charge 8 712,33, net 4 356,17 + 20 % VAT = 5 227,40.
    assert "5\xa0227,40\xa0€" in email.body_text
    assert link_token(email) == link.token
    confirmation = Confirmation.objects.get()
    assert confirmation.token_hash == tokens.token_hash(link.token)
    assert link.token not in str(Confirmation.objects.values().get())
    assert (confirmation.plan, confirmation.from_plan) == (
        plans["entreprise"],
        plans["professionnel"],
    )
    assert actions() == ["upgrade.requested"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("essentiel", "équipe support"),
        # The current plan is called that, not a lower one.
        ("professionnel", "Vous êtes déjà au forfait Professionnel."),
    ],
)
def test_downgrade_or_same_plan_is_refused(owner, subscription, plans, code, message):
    with pytest.raises(ValidationError) as excinfo:
        request_upgrade(owner, plans, code)
    assert message in excinfo.value.message_dict["plan"][0]
    assert not Confirmation.objects.exists()
    assert not Email.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_manager_cannot_request(owner, manager, subscription, plans):
    with pytest.raises(PermissionDenied):
        services.upgrade_request(
            organisation=owner.organisation, plan=plans["entreprise"], actor=manager.user
        )
    with pytest.raises(PermissionDenied):
        services.closure_request(organisation=owner.organisation, actor=manager.user)
    assert not Confirmation.objects.exists()


def test_confirm_changes_plan_issues_prorated_invoice_and_emails(
    owner, subscription, plans, billing_contact
):
    link = request_upgrade(owner, plans)
    services.upgrade_confirm(token=link.token, ip="203.0.113.10")

    subscription.refresh_from_db()
    assert subscription.plan == plans["entreprise"]
    invoice = Invoice.objects.get()
    lines = list(invoice.lines.order_by("position"))
    assert [line.amount for line in lines] == [Decimal("-4356.16"), Decimal("8712.33")]
    assert "Professionnel" in lines[0].description
    assert "Entreprise" in lines[1].description
    assert (invoice.subtotal, invoice.vat_amount, invoice.total) == (
        Decimal("4356.17"),
        Decimal("871.23"),
        Decimal("5227.40"),
    )
    assert lines[0].period_end == subscription.period_end
    # The invoice goes to the owner and the billing contacts; the owner also gets the news.
    assert {e.to for e in Email.objects.filter(kind="invoice_issued")} == {
        "owner@example.com",
        "compta@example.com",
    }
    [confirmed] = emails_to("owner@example.com", "upgrade_confirmed")
    assert invoice.number in confirmed.body_text
    assert Confirmation.objects.get().status == Confirmation.Status.USED
    assert actions() == ["upgrade.requested", "invoice.issued", "upgrade.confirmed"]
    event = AuditEvent.objects.get(action="upgrade.confirmed")
    assert event.before["plan"] == "professionnel"
    assert event.after["plan"] == "entreprise"
    assert event.after["invoice"] == invoice.number
    assert event.ip_address == "203.0.113.10"


def test_a_link_works_once(owner, subscription, plans):
    link = request_upgrade(owner, plans)
    services.upgrade_confirm(token=link.token)
    with pytest.raises(LinkError) as excinfo:
        services.upgrade_confirm(token=link.token)
    assert excinfo.value.problem == LinkProblem.USED
    assert Invoice.objects.count() == 1
    assert AuditEvent.objects.filter(action="upgrade.confirmed").count() == 1


def test_an_expired_link_changes_nothing(owner, subscription, plans):
    link = request_upgrade(owner, plans)
    later = timezone.now() + timedelta(hours=48, seconds=1)
    with pytest.raises(LinkError) as excinfo:
        services.upgrade_confirm(token=link.token, now=later)
    assert excinfo.value.problem == LinkProblem.EXPIRED
    subscription.refresh_from_db()
    assert subscription.plan == plans["professionnel"]
    assert not Invoice.objects.exists()
    # Just before the end it still works.
    services.upgrade_confirm(token=link.token, now=later - timedelta(seconds=2))
    subscription.refresh_from_db()
    assert subscription.plan == plans["entreprise"]


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t[:-1],
        lambda t: t + "x",
        lambda t: t.upper(),
        lambda t: "",
        lambda t: "x" * 500,
        lambda t: tokens.token_hash(t),  # the stored hash is not a credential
    ],
)
def test_an_altered_link_is_unknown(owner, subscription, plans, alter):
    link = request_upgrade(owner, plans)
    with pytest.raises(LinkError) as excinfo:
        services.upgrade_confirm(token=alter(link.token))
    assert excinfo.value.problem == LinkProblem.UNKNOWN
    subscription.refresh_from_db()
    assert subscription.plan == plans["professionnel"]


def test_a_newer_request_supersedes_the_older_link(owner, subscription, plans):
    first = request_upgrade(owner, plans)
    second = request_upgrade(owner, plans)  # « Renvoyer l'e-mail »
    with pytest.raises(LinkError) as excinfo:
        services.upgrade_confirm(token=first.token)
    assert excinfo.value.problem == LinkProblem.SUPERSEDED
    services.upgrade_confirm(token=second.token)
    assert Invoice.objects.count() == 1
    assert len(emails_to("owner@example.com", "upgrade_request")) == 2


def test_an_upgrade_link_cannot_confirm_a_closure(owner, subscription, plans):
    link = request_upgrade(owner, plans)
    with pytest.raises(LinkError) as excinfo:
        services.closure_confirm(token=link.token)
    assert excinfo.value.problem == LinkProblem.UNKNOWN
    assert Organisation.objects.get().status == Organisation.Status.ACTIVE


def test_a_requester_no_longer_owner_cannot_confirm(owner, manager, subscription, plans):
    upgrade = request_upgrade(owner, plans)
    closure = services.closure_request(organisation=owner.organisation, actor=owner.user)
    account_services.ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )
    for confirm, link in (
        (services.upgrade_confirm, upgrade),
        (services.closure_confirm, closure),
    ):
        with pytest.raises(LinkError) as excinfo:
            confirm(token=link.token)
        assert excinfo.value.problem == LinkProblem.NOT_OWNER
    subscription.refresh_from_db()
    assert subscription.plan == plans["professionnel"]
    assert Organisation.objects.get().status == Organisation.Status.ACTIVE


def test_a_link_is_stale_when_the_plan_changed_meanwhile(owner, subscription, plans):
    link = request_upgrade(owner, plans)
    Subscription.objects.filter(pk=subscription.pk).update(plan=plans["essentiel"])
    with pytest.raises(LinkError) as excinfo:
        services.upgrade_confirm(token=link.token)
    assert excinfo.value.problem == LinkProblem.STALE
    assert not Invoice.objects.exists()


def test_upgrade_amount_follows_the_account_currency(owner, subscription, plans):
    Organisation.objects.filter(pk=owner.organisation.pk).update(currency="GBP")
    owner.organisation.refresh_from_db()
    # A French account billed in pounds: its VAT is also given in euros, at the ECB rate.
    ExchangeRate.objects.create(
        currency="GBP", date=timezone.localdate(), rate=Decimal("0.86905"), source="ecb"
    )
    link = request_upgrade(owner, plans)
    services.upgrade_confirm(token=link.token)
    invoice = Invoice.objects.get()
    # GBP: 5 200 → 10 400 a year; 265/365 of each.
    assert invoice.currency == "GBP"
    assert [line.amount for line in invoice.lines.order_by("position")] == [
        Decimal("-3775.34"),
        Decimal("7550.68"),
    ]
    # 3 775.34 × 20 % = 755.07 GBP of VAT; ÷ 0.86905 = 868.85 EUR.
    assert (invoice.vat_amount, invoice.vat_amount_eur) == (Decimal("755.07"), Decimal("868.85"))


def test_a_higher_plan_that_costs_less_is_a_downgrade(owner, subscription, plans):
    PlanPrice.objects.filter(plan=plans["entreprise"], currency="EUR").update(
        yearly_amount=Decimal("5000.00")
    )
    with pytest.raises(ValidationError) as excinfo:
        request_upgrade(owner, plans)
    assert "équipe support" in str(excinfo.value)
    assert not Confirmation.objects.exists()


def test_upgrade_cancels_a_downgrade_support_planned(owner, subscription, plans):
    Subscription.objects.filter(pk=subscription.pk).update(next_plan=plans["essentiel"])
    services.upgrade_confirm(token=request_upgrade(owner, plans).token)
    subscription.refresh_from_db()
    assert (subscription.plan, subscription.next_plan) == (plans["entreprise"], None)


# --- Closure --------------------------------------------------------------------------


def close_account(owner):
    link = services.closure_request(organisation=owner.organisation, actor=owner.user)
    return services.closure_confirm(token=link.token)


def test_closure_request_changes_nothing_until_confirmed(owner, subscription):
    link = services.closure_request(organisation=owner.organisation, actor=owner.user)
    assert Organisation.objects.get().status == Organisation.Status.ACTIVE
    [email] = emails_to("owner@example.com", "closure_request")
    assert link_token(email) == link.token
    assert actions() == ["closure.requested"]


def test_closure_confirm_closes_cancels_and_tells_contacts(
    owner, manager, subscription, billing_contact, plans
):
    upgrade = request_upgrade(owner, plans)
    closure = close_account(owner)

    organisation = Organisation.objects.get()
    assert organisation.status == Organisation.Status.CLOSED
    assert organisation.closed_at == closure.closed_at
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELLED
    assert closure.anonymise_after == closure.closed_at + timedelta(days=30)
    recipients = {e.to for e in Email.objects.filter(kind="account_closed")}
    assert recipients == {"owner@example.com", "compta@example.com"}
    assert actions() == ["upgrade.requested", "closure.requested", "closure.confirmed"]
    # The pending upgrade is moot.
    with pytest.raises(LinkError) as excinfo:
        services.upgrade_confirm(token=upgrade.token)
    assert excinfo.value.problem == LinkProblem.CANCELLED
    # A closed account does not renew.
    Subscription.objects.filter(pk=subscription.pk).update(
        period_end=timezone.localdate() - timedelta(days=1)
    )
    assert services.renewal_issue(subscription=subscription) is None
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(("language", "says"), [("fr", "reste dû"), ("en", "still due")])
def test_closure_emails_name_the_amount_still_due_in_the_accounts_language(
    owner, subscription, billing_contact, language, says
):
    """Open invoices, less what was paid; paid ones and other accounts' do not count."""
    with translation.override(language):
        amount = money(Decimal("1320.00"), "EUR")
    assert amount in ("1\xa0320,00\xa0€", "€1,320.00")
    Organisation.objects.filter(pk=owner.organisation.pk).update(language=language)
    owner.organisation.refresh_from_db()
    for _ in range(11):
        InvoiceFactory(organisation=owner.organisation)
    InvoiceFactory(organisation=owner.organisation, amount_paid=Decimal("0.00"), total=0)
    InvoiceFactory(organisation=owner.organisation, status=Invoice.Status.PAID)
    InvoiceFactory()  # another account's
    close_account(owner)

    [request] = emails_to("owner@example.com", "closure_request")
    closed = Email.objects.filter(kind="account_closed")
    assert {email.to for email in closed} == {"owner@example.com", "compta@example.com"}
    for email in [request, *closed]:
        assert amount in email.body_text, email.body_text
        assert says in email.body_text
        assert amount in html.unescape(email.body_html)


def test_closure_emails_say_nothing_of_money_when_all_is_paid(owner, subscription):
    InvoiceFactory(organisation=owner.organisation, status=Invoice.Status.PAID)
    close_account(owner)
    for email in Email.objects.filter(kind__in=["closure_request", "account_closed"]):
        assert "Reste à payer" not in email.body_text
        assert "reste dû" not in email.body_text


def test_issued_invoices_survive_closure_and_anonymisation(owner, subscription, plans):
    services.upgrade_confirm(token=request_upgrade(owner, plans).token)
    invoice = Invoice.objects.get()
    closure = close_account(owner)
    services.account_anonymise(
        organisation=owner.organisation, now=closure.anonymise_after + timedelta(seconds=1)
    )
    kept = Invoice.objects.get()
    assert (kept.number, kept.total, kept.buyer_legal_name) == (
        invoice.number,
        invoice.total,
        invoice.buyer_legal_name,
    )


def test_anonymisation_waits_for_the_grace_period(owner, manager, subscription, billing_contact):
    closure = close_account(owner)
    before = closure.anonymise_after - timedelta(seconds=1)
    assert services.account_anonymise(organisation=owner.organisation, now=before) is False
    assert User.objects.filter(email="owner@example.com").exists()
    assert BillingContact.objects.exists()

    after = closure.anonymise_after + timedelta(seconds=1)
    assert services.account_anonymise(organisation=owner.organisation, now=after) is True

    for membership in Membership.objects.filter(organisation=owner.organisation):
        user = membership.user
        assert (user.first_name, user.last_name) == ("", "")
        assert user.email.endswith(".invalid")
        assert not user.has_usable_password()
        assert not user.is_active
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, email="owner@example.com", password="billing-demo") is None
    assert not User.objects.filter(email__in=["owner@example.com", "manager@example.com"])
    assert not BillingContact.objects.exists()
    event = AuditEvent.objects.get(action="account.anonymised")
    assert event.after == {"users": 2, "memberships_removed": 0, "billing_contacts_deleted": 1}
    assert "example.com" not in str(event.after)
    # Nothing else of theirs stays behind: audit trail, outbox, support requests.
    trail = list(
        AuditEvent.objects.filter(organisation=owner.organisation).values_list(
            "actor_label", "before", "after"
        )
    )
    assert trail and "example.com" not in str(trail) and "Camille" not in str(trail)
    assert not Email.objects.filter(organisation=owner.organisation).exists()
    # Twice is once.
    assert services.account_anonymise(organisation=owner.organisation, now=after) is False
    assert AuditEvent.objects.filter(action="account.anonymised").count() == 1


def test_anonymisation_keeps_the_people_another_account_still_needs(
    owner, manager, other_owner, subscription
):
    """The program manager also manages another account (an agency): they keep their user,
    and lose only this account; the owner, whose only account this is, is anonymised."""
    from tests.factories import MembershipFactory

    elsewhere = MembershipFactory(user=manager.user, organisation=other_owner.organisation)
    from accounts.audit import audit_record

    audit_record(
        organisation=owner.organisation, action="support.request_created", actor=manager.user
    )
    closure = close_account(owner)
    after = closure.anonymise_after + timedelta(seconds=1)
    assert services.account_anonymise(organisation=owner.organisation, now=after) is True

    manager.user.refresh_from_db()
    assert (manager.user.email, manager.user.first_name) == ("manager@example.com", "Julien")
    assert manager.user.is_active and manager.user.has_usable_password()
    assert list(Membership.objects.filter(user=manager.user)) == [elsewhere]
    assert not Membership.objects.filter(pk=manager.pk).exists()
    owner.user.refresh_from_db()
    assert owner.user.email.endswith(".invalid") and not owner.user.is_active
    assert Membership.objects.filter(pk=owner.pk).exists()
    event = AuditEvent.objects.get(action="account.anonymised")
    assert event.after == {"users": 1, "memberships_removed": 1, "billing_contacts_deleted": 0}
    # This account's trail names neither of them, nor leads to the person who stays.
    trail = AuditEvent.objects.filter(organisation=owner.organisation)
    assert "Julien" not in str(list(trail.values_list("actor_label", "before", "after")))
    assert not trail.filter(actor=manager.user).exists()
    # They still sign in, to their other account only.
    request = RequestFactory().post("/accounts/login/")
    user = authenticate(request, username="manager@example.com", password="billing-demo")
    assert user == manager.user


def test_anonymisation_erases_the_accounts_support_requests(owner, other_owner, subscription):
    """support keeps the requests; it erases them through subscriptions.hooks."""
    from support.models import SupportRequest

    def support_request(membership):
        return SupportRequest.objects.create(
            organisation=membership.organisation,
            user=membership.user,
            name="Camille Martin",
            email=membership.user.email,
            subject="Facture",
            message="Bonjour, c'est Camille.",
        )

    mine, theirs = support_request(owner), support_request(other_owner)
    closure = close_account(owner)
    services.account_anonymise(
        organisation=owner.organisation, now=closure.anonymise_after + timedelta(seconds=1)
    )
    mine.refresh_from_db()
    assert (mine.name, mine.email, mine.message, mine.user) == (
        "[anonymisé]",
        "anonyme@anonymised.invalid",
        "[anonymisé]",
        None,
    )
    assert mine.subject == "Facture"  # kept: the request itself stays for the record
    theirs.refresh_from_db()
    assert (theirs.name, theirs.email) == ("Camille Martin", "other@example.com")


def test_anonymisation_leaves_other_accounts_alone(owner, other_owner, subscription):
    closure = close_account(owner)
    services.account_anonymise(
        organisation=owner.organisation, now=closure.anonymise_after + timedelta(seconds=1)
    )
    other_owner.user.refresh_from_db()
    assert other_owner.user.email == "other@example.com"
    assert other_owner.user.is_active


def test_support_reopens_during_the_grace_period(owner, subscription, support_user):
    closure = close_account(owner)
    with pytest.raises(ValidationError):
        services.account_reopen(organisation=owner.organisation, actor=support_user, reason=" ")
    with pytest.raises(PermissionDenied):
        services.account_reopen(organisation=owner.organisation, actor=owner.user, reason="x")

    services.account_reopen(
        organisation=owner.organisation, actor=support_user, reason="Fermé par erreur"
    )

    organisation = Organisation.objects.get()
    assert (organisation.status, organisation.closed_at) == (Organisation.Status.ACTIVE, None)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE
    event = AuditEvent.objects.get(action="account.reopened")
    assert event.actor_label.startswith("support: ")
    assert event.after["reason"] == "Fermé par erreur"
    # Reopened: the grace period no longer leads to anonymisation.
    later = closure.anonymise_after + timedelta(days=1)
    assert services.account_anonymise(organisation=owner.organisation, now=later) is False
    owner.user.refresh_from_db()
    assert owner.user.email == "owner@example.com"
    # And the account can be closed again later.
    close_account(owner)
    assert AccountClosure.objects.count() == 2


def test_no_reopening_after_anonymisation(owner, subscription, support_user):
    closure = close_account(owner)
    services.account_anonymise(
        organisation=owner.organisation, now=closure.anonymise_after + timedelta(seconds=1)
    )
    with pytest.raises(ValidationError) as excinfo:
        services.account_reopen(
            organisation=owner.organisation, actor=support_user, reason="Trop tard"
        )
    assert "anonymisées" in str(excinfo.value)
    assert Organisation.objects.get().status == Organisation.Status.CLOSED


def test_reopen_refuses_an_open_account(owner, subscription, support_user):
    with pytest.raises(ValidationError):
        services.account_reopen(organisation=owner.organisation, actor=support_user, reason="x")
    assert not AuditEvent.objects.exists()


# --- Renewals -------------------------------------------------------------------------


@pytest.fixture
def ended(subscription, today):
    """A subscription whose period ended yesterday."""
    Subscription.objects.filter(pk=subscription.pk).update(
        period_start=today - timedelta(days=366), period_end=today - timedelta(days=1)
    )
    subscription.refresh_from_db()
    return subscription


def test_renewal_issues_once_and_advances_the_period(owner, ended, plans, billing_contact):
    old_end = ended.period_end
    estimate = pricing.renewal_lines(ended)

    invoice = services.renewal_issue(subscription=ended)
    assert services.renewal_issue(subscription=ended) is None

    assert Invoice.objects.count() == 1
    ended.refresh_from_db()
    assert ended.period_start == old_end
    assert ended.period_end == one_year_after(old_end)
    [line] = invoice.lines.all()
    assert (line.description, line.amount) == (estimate[0].description, Decimal("6000.00"))
    assert (line.period_start, line.period_end) == (estimate[0].period_start, ended.period_end)
    assert {e.to for e in Email.objects.filter(kind="invoice_issued")} == {
        "owner@example.com",
        "compta@example.com",
    }
    assert AuditEvent.objects.filter(action="renewal.issued").count() == 1


def test_renewal_applies_the_planned_downgrade(owner, ended, plans):
    Subscription.objects.filter(pk=ended.pk).update(next_plan=plans["essentiel"])
    ended.refresh_from_db()
    assert pricing.renewal_lines(ended)[0].unit_price == Decimal("2400.00")
    invoice = services.renewal_issue(subscription=ended)
    ended.refresh_from_db()
    assert (ended.plan, ended.next_plan) == (plans["essentiel"], None)
    assert invoice.subtotal == Decimal("2400.00")


def test_renewal_is_not_due_before_the_period_ends(owner, subscription):
    assert services.renewal_issue(subscription=subscription) is None
    assert not Invoice.objects.exists()


def test_renewal_estimate_equals_what_the_renewal_issues(owner, ended, plans):
    """The Factures tab estimates with renewal_lines + invoice_preview: same numbers."""
    from invoices.totals import invoice_preview

    totals = invoice_preview(organisation=owner.organisation, lines=pricing.renewal_lines(ended))
    invoice = services.renewal_issue(subscription=ended)
    assert (invoice.subtotal, invoice.vat_amount, invoice.total) == (
        totals.subtotal,
        totals.vat_amount,
        totals.total,
    )


def test_renewal_lines_are_in_the_account_language(owner, subscription):
    Organisation.objects.filter(pk=owner.organisation.pk).update(language="en")
    subscription.organisation.refresh_from_db()
    [line] = pricing.renewal_lines(subscription)
    assert "Professional" in line.description


def test_renewal_needs_a_price_in_the_account_currency(owner, plans):
    owner.organisation.currency = "CHF"
    owner.organisation.save()
    subscription = SubscriptionFactory(organisation=owner.organisation, plan=plans["essentiel"])
    with pytest.raises(ValidationError):
        pricing.renewal_lines(subscription)


def test_reminder_once_per_period(owner, subscription, today):
    Subscription.objects.filter(pk=subscription.pk).update(period_end=today + timedelta(days=30))
    assert services.renewal_remind(subscription=subscription) is True
    assert services.renewal_remind(subscription=subscription) is False
    [email] = emails_to("owner@example.com", "renewal_reminder")
    assert "7\xa0200,00\xa0€" in email.body_text  # 6 000 € + 20 % VAT
    subscription.refresh_from_db()
    assert subscription.renewal_reminder_sent_for == subscription.period_end


def test_no_reminder_too_early(owner, subscription, today):
    Subscription.objects.filter(pk=subscription.pk).update(period_end=today + timedelta(days=31))
    assert services.renewal_remind(subscription=subscription) is False
    assert not Email.objects.exists()


def test_reopening_tells_the_owner_and_contacts_in_the_accounts_language(
    owner, subscription, support_user, billing_contact
):
    close_account(owner)
    Organisation.objects.filter(pk=owner.organisation_id).update(language="en")
    services.account_reopen(
        organisation=Organisation.objects.get(), actor=support_user, reason="Fermé par erreur"
    )
    [email] = emails_to("owner@example.com", "account_reopened")
    assert email.subject == f"The account {owner.organisation.name} is reopened"
    assert "was reopened on" in email.body_text
    assert "Fermé par erreur" not in email.body_text  # support's reason stays internal
    assert len(emails_to(billing_contact.email, "account_reopened")) == 1


def test_a_downgrade_scheduled_by_support_is_emailed_to_the_owner(
    owner, subscription, support_user, plans
):
    services.plan_change_by_support(
        organisation=owner.organisation,
        plan=plans["essentiel"],
        actor=support_user,
        reason="Demandé par téléphone",
    )
    [email] = emails_to("owner@example.com", "plan_change_scheduled")
    with translation.override("fr"):
        renewal = long_date(subscription.period_end)
    assert email.subject == f"Passage au forfait Essentiel le {renewal}"
    assert "du forfait Professionnel au forfait Essentiel" in email.body_text
    assert "Demandé par téléphone" not in email.body_text
    # Choosing the current plan cancels the change: nothing new to announce.
    services.plan_change_by_support(
        organisation=owner.organisation,
        plan=plans["professionnel"],
        actor=support_user,
        reason="Annulé",
    )
    assert len(emails_to("owner@example.com", "plan_change_scheduled")) == 1
