"""The authentication backend loads the user's memberships and their accounts with the user:
every portal page starts with two queries (session, then user + memberships + accounts),
however many accounts the person has."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.backends import PortalBackend
from accounts.models import Membership
from tests.factories import PASSWORD, MembershipFactory, OrganisationFactory


def test_get_user_loads_membership_and_account_in_one_query(owner, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = PortalBackend().get_user(owner.user.pk)
        [membership] = user.loaded_memberships
        assert membership.role == Membership.Role.OWNER
        assert membership.organisation == owner.organisation
        assert membership.user is user


def test_get_user_loads_every_account_in_the_same_query(owner, django_assert_num_queries):
    """Several accounts: still one query, the last chosen first, then by name."""
    zeta = MembershipFactory(user=owner.user, organisation=OrganisationFactory(name="Zeta"))
    alpha = MembershipFactory(user=owner.user, organisation=OrganisationFactory(name="Alpha"))
    with django_assert_num_queries(1):
        user = PortalBackend().get_user(owner.user.pk)
        names = [m.organisation.name for m in user.loaded_memberships]
        assert all(m.user is user for m in user.loaded_memberships)
    assert names == ["Alpha", owner.organisation.name, "Zeta"]
    Membership.objects.filter(pk=zeta.pk).update(chosen_at=timezone.now())
    user = PortalBackend().get_user(owner.user.pk)
    assert [m.pk for m in user.loaded_memberships] == [zeta.pk, alpha.pk, owner.pk]


def test_get_user_for_support_staff_without_an_account(support_user, django_assert_num_queries):
    # No membership row to join the user to: the user is read on its own.
    with django_assert_num_queries(2):
        user = PortalBackend().get_user(support_user.pk)
        assert user.loaded_memberships == []  # known absent: no further query


def test_get_user_refuses_inactive_and_unknown_users(owner):
    owner.user.is_active = False
    owner.user.save()
    assert PortalBackend().get_user(owner.user.pk) is None
    assert PortalBackend().get_user(10**9) is None


def test_signed_in_page_queries_the_membership_once(client, owner):
    response = client.post(
        reverse("login"), {"username": "owner@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("portal:contacts"))
    assert response.status_code == 200
    assert "Camille Martin" in response.content.decode()
    sqls = [q["sql"] for q in ctx.captured_queries]
    assert sqls[0].startswith('SELECT "django_session"')
    assert 'FROM "accounts_membership"' in sqls[1] and '"accounts_user"' in sqls[1]
    assert '"accounts_organisation"' in sqls[1]
    membership_by_user = [s for s in sqls[2:] if 'WHERE "accounts_membership"."user_id"' in s]
    assert membership_by_user == []


def test_a_member_whose_account_was_left_sees_403(client_for, manager):
    """Deleted between two requests: the next request knows (the membership is not cached
    across requests)."""
    client = client_for(manager)
    assert client.get(reverse("portal:contacts")).status_code == 200
    Membership.objects.filter(pk=manager.pk).delete()
    assert client.get(reverse("portal:contacts")).status_code == 403
