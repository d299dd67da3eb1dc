"""Migration 0006 lets a person belong to several accounts, keeping every membership."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0005_user_oidc_subject")]
AFTER = [("accounts", "0006_membership_per_account")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_memberships_are_kept_and_a_second_account_becomes_possible():
    apps = migrate(BEFORE)
    try:
        User = apps.get_model("accounts", "User")
        Organisation = apps.get_model("accounts", "Organisation")
        Membership = apps.get_model("accounts", "Membership")
        lyon = Organisation.objects.create(name="Lyon")
        nordic = Organisation.objects.create(name="Nordic")
        camille = User.objects.create(email="camille@example.com")
        erik = User.objects.create(email="erik@example.com")
        Membership.objects.create(organisation=lyon, user=camille, role="owner")
        Membership.objects.create(organisation=nordic, user=erik, role="owner")
        with pytest.raises(IntegrityError), transaction.atomic():
            Membership.objects.create(organisation=nordic, user=camille, role="manager")

        apps = migrate(AFTER)
        Membership = apps.get_model("accounts", "Membership")
        kept = Membership.objects.order_by("pk").values_list(
            "organisation__name", "user__email", "role", "chosen_at"
        )
        assert list(kept) == [
            ("Lyon", "camille@example.com", "owner", None),
            ("Nordic", "erik@example.com", "owner", None),
        ]
        Membership.objects.create(organisation_id=nordic.pk, user_id=camille.pk, role="manager")
        assert Membership.objects.filter(user_id=camille.pk).count() == 2
        with pytest.raises(IntegrityError), transaction.atomic():
            Membership.objects.create(organisation_id=lyon.pk, user_id=camille.pk)
        Membership.objects.filter(user_id=camille.pk, organisation_id=nordic.pk).delete()
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
