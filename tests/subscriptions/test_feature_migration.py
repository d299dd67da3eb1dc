"""Migration 0004 turns each plan's old list of features into rows of the comparison."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("subscriptions", "0003_confirmation_mandates")]
AFTER = [("subscriptions", "0004_plan_features")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_each_listed_feature_becomes_a_row_included_where_it_was_listed():
    apps = migrate(BEFORE)
    try:
        Plan = apps.get_model("subscriptions", "Plan")
        Plan.objects.create(
            code="petit",
            name_fr="Petit",
            name_en="Small",
            rank=1,
            features_fr=["1 programme", "Support par e-mail"],
            features_en=["1 program", "Email support"],
        )
        Plan.objects.create(
            code="grand",
            name_fr="Grand",
            name_en="Large",
            rank=2,
            features_fr=["5 programmes", "Support par e-mail"],
            features_en=["5 programs", "Email support"],
        )
        apps = migrate(AFTER)
        Feature = apps.get_model("subscriptions", "Feature")
        PlanFeature = apps.get_model("subscriptions", "PlanFeature")
        rows = [(f.label_fr, f.label_en) for f in Feature.objects.order_by("position")]
        assert rows == [
            ("1 programme", "1 program"),
            ("Support par e-mail", "Email support"),
            ("5 programmes", "5 programs"),
        ]
        included = sorted(
            (value.plan.code, value.feature.label_en)
            for value in PlanFeature.objects.select_related("plan", "feature")
        )
        assert included == [
            ("grand", "5 programs"),
            ("grand", "Email support"),
            ("petit", "1 program"),
            ("petit", "Email support"),
        ]
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
