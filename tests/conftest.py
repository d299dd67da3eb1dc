import os

import pytest
from django.conf import settings
from django.db import connection

from accounts.demo import support_group
from accounts.models import Membership

from .factories import MembershipFactory, OrganisationFactory, UserFactory

IN_CI = bool(os.environ.get("CI"))


def pytest_collection_modifyitems(config, items):
    """`postgres`/`redis` tests need the real service: skipped locally without it, failed in CI."""
    broker = settings.CELERY_BROKER_URL
    for item in items:
        if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
            item.add_marker(_missing("needs PostgreSQL: set DATABASE_URL=postgres://..."))
        if item.get_closest_marker("redis") and not broker.startswith("redis"):
            item.add_marker(_missing("needs Redis: set CELERY_BROKER_URL=redis://..."))


def _missing(reason):
    if IN_CI:
        # In CI a missing service is a failure, never a skip.
        return pytest.mark.usefixtures("_fail_missing_service")
    return pytest.mark.skip(reason=reason)


@pytest.fixture
def _fail_missing_service(request):
    pytest.fail(f"{request.node.nodeid}: required service missing in CI")


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Festival International du Film de Lyon")


@pytest.fixture
def owner(organisation):
    return MembershipFactory(
        organisation=organisation,
        role=Membership.Role.OWNER,
        user=UserFactory(email="owner@example.com", first_name="Camille", last_name="Martin"),
    )


@pytest.fixture
def manager(organisation):
    return MembershipFactory(
        organisation=organisation,
        user=UserFactory(email="manager@example.com", first_name="Julien", last_name="Bernard"),
    )


@pytest.fixture
def other_owner(db):
    return MembershipFactory(
        organisation=OrganisationFactory(
            name="Nordic Design Awards", country="SE", vat_number="SE556677889901"
        ),
        role=Membership.Role.OWNER,
        user=UserFactory(email="other@example.com", first_name="Erik", last_name="Lund"),
    )


@pytest.fixture
def support_user(db):
    user = UserFactory(
        email="support@example.com", first_name="Léa", last_name="Moreau", is_staff=True
    )
    user.groups.add(support_group())
    return user


@pytest.fixture
def client_for(client):
    """Log a test client in as a given user (or membership)."""

    def login(who):
        user = getattr(who, "user", who)
        client.force_login(user)
        return client

    return login


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
