"""The admin as support staff see it: a member of the "Support" group, not a superuser."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, Membership, Organisation
from emails.models import Email
from tests.factories import BillingContactFactory


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


@pytest.mark.parametrize(
    "query",
    ["Festival", "owner@example.com", "manager@example.com", "FR44732829320", "compta@example.com"],
)
def test_support_finds_an_account(support, owner, manager, other_owner, query):
    BillingContactFactory(organisation=owner.organisation, email="compta@example.com")
    response = support.get(reverse("admin:accounts_organisation_changelist"), {"q": query})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Festival International du Film de Lyon" in html
    assert "Nordic Design Awards" not in html


def test_account_page_shows_members_contacts_and_audit(support, owner, manager):
    BillingContactFactory(organisation=owner.organisation, email="compta@example.com")
    AuditEvent.objects.create(
        organisation=owner.organisation,
        actor_label="x",
        action="contact.added",
        after={"email": "compta@example.com"},
    )
    html = support.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    for text in (
        "owner@example.com",
        "manager@example.com",
        "compta@example.com",
        "contact.added",
        "Changer le propriétaire",
    ):
        assert text in html


def test_support_changes_the_owner_with_a_reason(
    support, owner, manager, django_capture_on_commit_callbacks
):
    url = reverse("admin:accounts_organisation_change_owner", args=[owner.organisation.pk])
    page = support.get(url).content.decode()
    assert "Julien Bernard" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            url, {"new_owner": manager.pk, "reason": "Demande signée sur papier à en-tête"}
        )
    assert response.status_code == 302
    assert Membership.objects.get(organisation=owner.organisation, role="owner") == manager
    event = AuditEvent.objects.get(action="ownership.transferred")
    assert event.actor_label == "support: Léa Moreau"
    assert event.after["reason"] == "Demande signée sur papier à en-tête"
    assert set(Email.objects.values_list("to", flat=True)) == {
        "owner@example.com",
        "manager@example.com",
    }


@pytest.mark.parametrize("case", ["no-reason", "other-account", "owner-itself"])
def test_support_owner_change_refusals(support, owner, manager, other_owner, case):
    target = {"no-reason": manager, "other-account": other_owner, "owner-itself": owner}[case]
    reason = "" if case == "no-reason" else "Demande écrite"
    url = reverse("admin:accounts_organisation_change_owner", args=[owner.organisation.pk])
    response = support.post(url, {"new_owner": target.pk, "reason": reason})
    assert response.status_code == 200
    assert Membership.objects.get(organisation=owner.organisation, role="owner") == owner
    assert not AuditEvent.objects.exists()


def test_support_cannot_touch_passwords_or_rights(support, owner, support_user):
    user = owner.user
    assert support.get(reverse("admin:auth_user_password_change", args=[user.pk])).status_code in (
        403,
        404,
    )
    password_before = user.password
    support.post(
        reverse("admin:accounts_user_change", args=[user.pk]),
        {"email": user.email, "is_superuser": "on", "is_staff": "on"},
    )
    user.refresh_from_db()
    assert (user.is_superuser, user.is_staff, user.password) == (False, False, password_before)
    support_user.refresh_from_db()
    assert not support_user.is_superuser


def test_support_cannot_edit_or_delete_audit_events(support, owner):
    event = AuditEvent.objects.create(
        organisation=owner.organisation, actor_label="x", action="contact.added"
    )
    assert (
        support.post(
            reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    with pytest.raises(ValueError):
        event.save()


def test_program_manager_has_no_admin(client, manager):
    client.force_login(manager.user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_support_filters_the_audit_trail_by_account(support, owner, other_owner):
    AuditEvent.objects.create(
        organisation=owner.organisation, actor_label="x", action="contact.added"
    )
    AuditEvent.objects.create(
        organisation=other_owner.organisation, actor_label="y", action="contact.removed"
    )
    response = support.get(
        reverse("admin:accounts_auditevent_changelist"),
        {"organisation__id__exact": owner.organisation.pk},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<td class="field-action">contact.added' in html
    assert '<td class="field-action">contact.removed' not in html


def test_support_finds_an_account_by_invoice_number(support, owner, other_owner):
    from tests.factories import InvoiceFactory

    invoice = InvoiceFactory(organisation=owner.organisation)
    response = support.get(reverse("admin:accounts_organisation_changelist"), {"q": invoice.number})
    html = response.content.decode()
    assert "Festival International du Film de Lyon" in html
    assert "Nordic Design Awards" not in html


def _inline_management(prefix_counts):
    data = {}
    for prefix, count in prefix_counts.items():
        data |= {
            f"{prefix}-TOTAL_FORMS": str(count),
            f"{prefix}-INITIAL_FORMS": str(count),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    return data


@pytest.mark.parametrize("as_superuser", [False, True])
def test_the_standard_admin_forms_are_no_side_door(
    support, owner, manager, support_user, as_superuser
):
    """A raw change-form POST (country ZZ, currency XXX, markup as VAT number, another
    email for a billing contact, a role) changes nothing and writes no audit event: these
    rows change only through the support actions, which call the services."""
    from invoices.services import invoice_issue

    if as_superuser:
        support_user.is_superuser = True
        support_user.save(update_fields=["is_superuser"])
    organisation = owner.organisation
    contact = BillingContactFactory(organisation=organisation, email="compta@example.com")
    before = Organisation.objects.filter(pk=organisation.pk).values().get()
    page = support.get(reverse("admin:accounts_organisation_change", args=[organisation.pk]))
    assert page.status_code == 200
    assert 'name="country"' not in page.content.decode()  # shown, not editable

    support.post(
        reverse("admin:accounts_organisation_change", args=[organisation.pk]),
        {
            "name": "Hacked",
            "country": "ZZ",
            "currency": "XXX",
            "language": "xx",
            "vat_number": "<b>NOT-A-VAT</b>",
            "address_line1": "1 rue",
            "city": "Nowhere",
            **_inline_management({"memberships": 2, "billing_contacts": 1}),
            "billing_contacts-0-id": str(contact.pk),
            "billing_contacts-0-email": "thief@example.net",
            "billing_contacts-0-DELETE": "on",
        },
    )
    support.post(
        reverse("admin:accounts_billingcontact_change", args=[contact.pk]),
        {
            "organisation": organisation.pk,
            "first_name": "X",
            "last_name": "Y",
            "email": "thief@example.net",
        },
    )
    support.post(
        reverse("admin:accounts_membership_change", args=[manager.pk]),
        {"organisation": organisation.pk, "user": manager.user.pk, "role": "owner"},
    )
    support.post(
        reverse("admin:accounts_billingcontact_delete", args=[contact.pk]), {"post": "yes"}
    )
    assert support.get(reverse("admin:accounts_billingcontact_add")).status_code == 403

    assert Organisation.objects.filter(pk=organisation.pk).values().get() == before
    contact.refresh_from_db()
    assert contact.email == "compta@example.com"
    manager.refresh_from_db()
    assert manager.role == "manager"
    assert not AuditEvent.objects.exists()
    # The next invoice carries the account's real details.
    from tests.invoices.conftest import one_line

    invoice = invoice_issue(organisation=organisation, lines=one_line())
    assert (invoice.buyer_country, invoice.currency) == ("FR", "EUR")


def test_a_superuser_changing_a_persons_email_is_in_each_accounts_journal(
    client, owner, other_owner
):
    """An email is where the person signs in and receives the invoices: changing it in the
    admin (superusers only: the support group has no right to change users) is recorded,
    naming who did it, in the journal of every account the person is in."""
    from tests.factories import MembershipFactory, UserFactory

    admin_user = UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    user = owner.user
    MembershipFactory(organisation=other_owner.organisation, user=user, role="manager")
    url = reverse("admin:accounts_user_change", args=[user.pk])
    form = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "date_joined_0": "2026-01-05",
        "date_joined_1": "10:00:00",
    }

    assert client.post(url, form).status_code == 302  # nothing of the person changed
    assert not AuditEvent.objects.filter(action="user.updated").exists()

    old_email = user.email
    assert client.post(url, {**form, "email": "nouvelle@example.com"}).status_code == 302
    user.refresh_from_db()
    assert user.email == "nouvelle@example.com"
    events = AuditEvent.objects.filter(action="user.updated").order_by("organisation_id")
    assert {e.organisation for e in events} == {owner.organisation, other_owner.organisation}
    for event in events:
        assert event.before == {"email": old_email}
        assert event.after == {"email": "nouvelle@example.com"}
        assert event.actor == admin_user
    page = client.get(
        reverse("admin:accounts_organisation_change", args=[owner.organisation.pk])
    ).content.decode()
    assert "Personne modifiée par le support" in page
