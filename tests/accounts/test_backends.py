"""The authentication backend loads the user's membership and account with the user: every
portal page starts with two queries (session, then user + membership + account)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import PortalBackend
from accounts.models import Membership
from tests.factories import PASSWORD


def test_get_user_loads_membership_and_account_in_one_query(owner, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = PortalBackend().get_user(owner.user.pk)
        assert user.membership.role == Membership.Role.OWNER
        assert user.membership.organisation == owner.organisation
        assert user.membership.user is user


def test_get_user_for_support_staff_without_an_account(support_user, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = PortalBackend().get_user(support_user.pk)
        assert not hasattr(user, "membership")  # known absent: no second query


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
    assert 'FROM "accounts_user"' in sqls[1] and '"accounts_membership"' in sqls[1]
    membership_by_user = [s for s in sqls if 'WHERE "accounts_membership"."user_id"' in s]
    assert membership_by_user == []


def test_a_member_whose_account_was_left_sees_403(client_for, manager):
    """Deleted between two requests: the next request knows (the membership is not cached
    across requests)."""
    client = client_for(manager)
    assert client.get(reverse("portal:contacts")).status_code == 200
    Membership.objects.filter(pk=manager.pk).delete()
    assert client.get(reverse("portal:contacts")).status_code == 403
