import os
from datetime import date, timedelta

import hypothesis
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone, translation

from accounts.demo import support_group
from accounts.models import Membership

from .factories import (
    BillingContactFactory,
    MembershipFactory,
    OrganisationFactory,
    SubscriptionFactory,
    UserFactory,
)
from .two_factor import clock  # noqa: F401 (the fixture of the two-step sign-in's clock)

IN_CI = bool(os.environ.get("CI"))

# Hypothesis fails an example that takes over 200 ms by default, and a test whose examples
# take too long to generate (health check "too_slow"). On a loaded machine (`pytest -n 8` on
# two cores) a pure function's example can take that long while the scheduler runs other
# workers: test_no_day_left_costs_nothing failed so, for an example that passes when run
# again. What an example computes is tested here; how fast it is, in the benchmarks.
hypothesis.settings.register_profile(
    "portal",
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
    print_blob=True,
)
hypothesis.settings.load_profile("portal")


def pytest_runtest_setup(item):
    """`postgres`/`redis` tests need the real service: skipped locally without it, failed in CI.

    Checked here rather than by adding a fixture at collection time: a `usefixtures` mark
    added after collection never joins the test's fixtures, so the test would just run.
    """
    missing = []
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        missing.append("needs PostgreSQL: set DATABASE_URL=postgres://...")
    if item.get_closest_marker("redis") and not settings.CELERY_BROKER_URL.startswith("redis"):
        missing.append("needs Redis: set CELERY_BROKER_URL=redis://...")
    if missing:
        reason = "; ".join(missing)
        if IN_CI:
            pytest.fail(f"required service missing in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Unit tests run Celery tasks in-process even when CI sets a broker; the tests that
    need a real worker (tests/integration) switch this off for themselves."""
    from billing_portal.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def _broker_breaker_closed():
    """A broker failure simulated by one test never makes the next one skip publishing."""
    from billing_portal.queue import breaker_reset

    breaker_reset()
    yield
    breaker_reset()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts and ends in the default language (French). LocaleMiddleware leaves
    the language of a request active in the thread, so without this a test that requests
    an English page would make the service tests that follow it run in English."""
    translation.deactivate()
    yield
    translation.deactivate()


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
def _documents_in_tmp(settings, tmp_path):
    """PDFs go to a per-test folder, never to var/."""
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def plans(db):
    """Essentiel < Professionnel < Entreprise, priced as in the demo (EUR, USD, GBP)."""
    from subscriptions.demo import seed_plans

    return seed_plans()


@pytest.fixture
def plan(plans):
    """Professionnel: 6 000 € a year."""
    return plans["professionnel"]


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def subscription(owner, plan, today):
    """The owner's account on Professionnel (6 000 € a year), 100 days into a 365-day year."""
    start = today - timedelta(days=100)
    return SubscriptionFactory(
        organisation=owner.organisation,
        plan=plan,
        period_start=start,
        period_end=start + timedelta(days=365),
    )


@pytest.fixture
def dated_subscription(owner, plan):
    """The owner's account on Professionnel for the year from 1 March 2026 (renews on
    1 March 2027): for the pages that print the renewal date."""
    return SubscriptionFactory(
        organisation=owner.organisation,
        plan=plan,
        period_start=date(2026, 3, 1),
        period_end=date(2027, 3, 1),
    )


@pytest.fixture
def billing_contact(owner):
    return BillingContactFactory(
        organisation=owner.organisation,
        first_name="Claire",
        last_name="Dubois",
        email="compta@example.com",
    )
