import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts import services
from accounts.models import AuditEvent, BillingContact, Membership
from emails.models import Email
from tests.factories import BillingContactFactory, MembershipFactory


def test_transfer_moves_ownership_and_emails_both(
    owner, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.ownership_transfer(
            organisation=owner.organisation,
            new_owner_membership_id=manager.pk,
            actor=owner.user,
            ip="203.0.113.5",
        )
    owner.refresh_from_db()
    manager.refresh_from_db()
    assert manager.role == Membership.Role.OWNER
    assert owner.role == Membership.Role.MANAGER
    sent = {e.to: e for e in Email.objects.all()}
    assert set(sent) == {"owner@example.com", "manager@example.com"}
    assert all(e.status == Email.Status.SENT for e in sent.values())
    assert "propriétaire" in sent["manager@example.com"].subject
    event = AuditEvent.objects.get(action="ownership.transferred")
    assert event.before == {"owner": "owner@example.com"}
    assert event.after == {"owner": "manager@example.com"}
    assert event.ip_address == "203.0.113.5"


@pytest.mark.parametrize("choice", ["owner", "other-account", "nonsense", None])
def test_transfer_refuses_anything_but_a_manager_of_the_account(
    owner, manager, other_owner, choice
):
    target = {
        "owner": owner.pk,
        "other-account": other_owner.pk,
        "nonsense": "drop table",
        None: None,
    }[choice]
    with pytest.raises(ValidationError) as excinfo:
        services.ownership_transfer(
            organisation=owner.organisation, new_owner_membership_id=target, actor=owner.user
        )
    assert "new_owner" in excinfo.value.message_dict
    owner.refresh_from_db()
    manager.refresh_from_db()
    assert (owner.role, manager.role) == ("owner", "manager")
    assert not Email.objects.exists()
    assert not AuditEvent.objects.exists()


def test_transfer_by_a_former_owner_is_refused(owner, manager):
    services.ownership_transfer(
        organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
    )
    with pytest.raises(PermissionDenied):
        services.ownership_transfer(
            organisation=owner.organisation, new_owner_membership_id=owner.pk, actor=owner.user
        )
    assert Membership.objects.get(role="owner").pk == manager.pk


def test_database_refuses_a_second_owner(owner, manager):
    manager.role = Membership.Role.OWNER
    with pytest.raises(IntegrityError), transaction.atomic():
        manager.save()


def test_contact_add_saves_and_audits(owner):
    contact = services.contact_add(
        organisation=owner.organisation,
        first_name=" Claire ",
        last_name="Dubois",
        email="Compta@Example.com",
        actor=owner.user,
    )
    assert (contact.first_name, contact.email) == ("Claire", "compta@example.com")
    assert AuditEvent.objects.get(action="contact.added").after["email"] == "compta@example.com"


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "dup@example.com"}, "email"),
        ({"email": "DUP@example.com"}, "email"),
        ({"first_name": ""}, "first_name"),
        ({"last_name": "   "}, "last_name"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"last_name": "a\nb"}, "last_name"),
        ({"email": "a@b.c\r\nBcc: x@y.z"}, "email"),
    ],
)
def test_contact_add_rejects_bad_input(owner, fields, error_field):
    BillingContactFactory(organisation=owner.organisation, email="dup@example.com")
    data = {"first_name": "Claire", "last_name": "Dubois", "email": "new@example.com", **fields}
    with pytest.raises(ValidationError) as excinfo:
        services.contact_add(organisation=owner.organisation, actor=owner.user, **data)
    assert error_field in excinfo.value.message_dict
    assert BillingContact.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_same_contact_email_allowed_in_another_account(owner, other_owner):
    BillingContactFactory(organisation=other_owner.organisation, email="shared@example.com")
    services.contact_add(
        organisation=owner.organisation,
        first_name="A",
        last_name="B",
        email="shared@example.com",
        actor=owner.user,
    )
    assert BillingContact.objects.filter(email="shared@example.com").count() == 2


def test_contact_update_and_remove(owner):
    contact = BillingContactFactory(organisation=owner.organisation, email="a@example.com")
    BillingContactFactory(organisation=owner.organisation, email="b@example.com")
    with pytest.raises(ValidationError):
        services.contact_update(
            contact=contact,
            first_name="A",
            last_name="B",
            email="b@example.com",
            actor=owner.user,
        )
    services.contact_update(
        contact=contact,
        first_name="Anne",
        last_name="B",
        email="a@example.com",
        actor=owner.user,
    )
    contact.refresh_from_db()
    assert contact.first_name == "Anne"
    services.contact_remove(contact=contact, actor=owner.user)
    assert not BillingContact.objects.filter(pk=contact.pk).exists()
    assert list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)) == [
        "contact.updated",
        "contact.removed",
    ]


def test_unlimited_contacts(owner):
    for n in range(120):
        services.contact_add(
            organisation=owner.organisation,
            first_name="P",
            last_name=str(n),
            email=f"p{n}@example.com",
            actor=owner.user,
        )
    assert owner.organisation.billing_contacts.count() == 120


def test_manager_of_other_account_cannot_be_made_owner(owner, other_owner):
    stranger = MembershipFactory(organisation=other_owner.organisation)
    with pytest.raises(ValidationError):
        services.ownership_transfer(
            organisation=owner.organisation,
            new_owner_membership_id=stranger.pk,
            actor=owner.user,
        )


def test_audit_rows_roll_back_with_a_failing_change(owner, manager, monkeypatch):
    """The audit event is written in the change's transaction: a failure after it (here the
    email queue) leaves neither the change nor the event."""

    def broken_queue(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(services.ownership, "email_queue", broken_queue)
    with pytest.raises(RuntimeError):
        services.ownership_transfer(
            organisation=owner.organisation, new_owner_membership_id=manager.pk, actor=owner.user
        )
    owner.refresh_from_db()
    assert owner.role == Membership.Role.OWNER
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        lambda org, who, contact: services.contact_add(
            organisation=org, first_name="A", last_name="B", email="new@example.com", actor=who
        ),
        lambda org, who, contact: services.contact_update(
            contact=contact, first_name="A", last_name="B", email="new@example.com", actor=who
        ),
        lambda org, who, contact: services.contact_remove(contact=contact, actor=who),
        lambda org, who, contact: services.organisation_update_address(
            organisation=org,
            address_line1="1 rue de la Paix",
            postal_code="75002",
            city="Paris",
            country="FR",
            actor=who,
        ),
        lambda org, who, contact: services.organisation_update_vat(
            organisation=org, vat_number="", actor=who
        ),
    ],
    ids=["contact_add", "contact_update", "contact_remove", "address", "vat"],
)
def test_a_closed_account_changes_only_by_being_reopened(owner, billing_contact, change):
    """Past its grace period a closed account's people are erased: nothing may be put back
    in meanwhile, by support or anyone (one rule, in the services)."""
    organisation = owner.organisation
    organisation.status = organisation.Status.CLOSED
    organisation.save(update_fields=["status"])
    before = (
        list(BillingContact.objects.values_list("email", flat=True)),
        organisation.address_line1,
        organisation.vat_number,
    )
    with pytest.raises(ValidationError, match="Ce compte est fermé."):
        change(organisation, owner.user, billing_contact)
    organisation.refresh_from_db()
    after = (
        list(BillingContact.objects.values_list("email", flat=True)),
        organisation.address_line1,
        organisation.vat_number,
    )
    assert after == before and not AuditEvent.objects.exists()
