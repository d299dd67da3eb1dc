"""The member services: adding, renaming, handing over and removing an account's people."""

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent, Membership, Organisation, User
from accounts.services import member_add, member_remove, member_update
from emails.models import Email
from tests.factories import OrganisationFactory, UserFactory


def _add(organisation, actor, email="julie@example.com", **extra):
    return member_add(
        organisation=organisation,
        email=email,
        first_name=extra.pop("first_name", "Julie"),
        last_name=extra.pop("last_name", "Roux"),
        actor=actor,
        **extra,
    )


def test_adding_a_new_person(owner, support_user):
    membership = _add(owner.organisation, support_user, email=" Julie@Example.COM ")
    assert (membership.role, membership.user.email) == ("manager", "julie@example.com")
    assert not membership.user.has_usable_password() and membership.user.is_active
    event = AuditEvent.objects.get(action="member.added")
    assert event.after["email"] == "julie@example.com" and event.organisation == owner.organisation


def test_a_former_member_comes_back_with_the_same_user(owner, support_user):
    user = UserFactory(email="julie@example.com", first_name="J", last_name="R")
    membership = _add(owner.organisation, support_user)
    assert membership.user == user
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Julie", "Roux")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"first_name": " "}, "first_name"),
        ({"last_name": "x" * 151}, "last_name"),
        ({"first_name": "A\x07"}, "first_name"),
        ({"role": "admin"}, "role"),
        ({"role": "owner"}, "role"),  # the account has one
    ],
)
def test_refused_additions_change_nothing(owner, support_user, fields, field):
    with pytest.raises(ValidationError) as error:
        _add(owner.organisation, support_user, **fields)
    assert field in error.value.message_dict
    assert Membership.objects.count() == 1
    assert not AuditEvent.objects.filter(action="member.added").exists()


def test_a_member_of_another_account_joins_this_one_too(owner, other_owner, support_user):
    names = (other_owner.user.first_name, other_owner.user.last_name)
    assert names != ("Julie", "Roux")
    added = _add(owner.organisation, support_user, email="OTHER@example.com")
    assert added.user == other_owner.user
    assert set(Membership.objects.filter(user=other_owner.user)) == {other_owner, added}
    # This account's input does not rename them in the account they already belong to.
    other_owner.user.refresh_from_db()
    assert (other_owner.user.first_name, other_owner.user.last_name) == names


def test_a_closed_account_takes_no_member(owner, support_user):
    Organisation.objects.filter(pk=owner.organisation.pk).update(status="closed")
    with pytest.raises(ValidationError):
        _add(owner.organisation, support_user)
    assert not User.objects.filter(email="julie@example.com").exists()


def test_the_first_member_of_a_new_account_may_be_its_owner(db, support_user):
    organisation = OrganisationFactory()
    membership = _add(organisation, support_user, role="owner")
    assert membership.is_owner


def test_renaming_and_handing_over(owner, manager, support_user):
    member_update(membership=manager, last_name="Bernardin", actor=support_user, by_host=True)
    manager.user.refresh_from_db()
    assert manager.user.last_name == "Bernardin"
    member_update(membership=manager, role="owner", actor=support_user, by_host=True)
    assert Membership.objects.get(pk=manager.pk).role == "owner"
    assert Membership.objects.get(pk=owner.pk).role == "manager"
    assert AuditEvent.objects.filter(action="ownership.transferred").count() == 1
    assert Email.objects.filter(to=manager.user.email, kind="ownership_received").exists()


def test_handing_over_needs_authority(owner, manager):
    """Without `by_host`, the transfer is the portal's: only the owner may make it."""
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        member_update(membership=manager, role="owner", actor=manager.user)
    assert Membership.objects.get(pk=owner.pk).role == "owner"


def test_the_owner_is_neither_demoted_nor_removed(owner, support_user):
    with pytest.raises(ValidationError):
        member_update(membership=owner, role="manager", actor=support_user, by_host=True)
    with pytest.raises(ValidationError):
        member_remove(membership=owner, actor=support_user)
    assert Membership.objects.get(pk=owner.pk).role == "owner"


def test_removing_a_manager_keeps_the_user(owner, manager, support_user):
    member_remove(membership=manager, actor=support_user)
    assert not Membership.objects.filter(pk=manager.pk).exists()
    assert User.objects.filter(pk=manager.user.pk).exists()
    assert AuditEvent.objects.get(action="member.removed").before["email"] == manager.user.email
