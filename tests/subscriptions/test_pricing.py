"""The one downgrade rule (subscriptions.pricing.plan_change_kind) and where it applies."""

from decimal import Decimal

import pytest

from subscriptions.pricing import plan_change_kind, upgrade_choices


@pytest.mark.parametrize(
    ("current", "target", "kind"),
    [
        ("professionnel", "entreprise", "upgrade"),
        ("professionnel", "professionnel", "same"),
        ("professionnel", "essentiel", "downgrade"),
        ("essentiel", "entreprise", "upgrade"),
    ],
)
def test_rank_decides(plans, current, target, kind):
    assert plan_change_kind(current=plans[current], target=plans[target]) == kind


def test_a_higher_plan_that_costs_less_is_a_downgrade(plans):
    current, target = plans["professionnel"], plans["entreprise"]
    cheaper = {"current_price": Decimal("6000.00"), "target_price": Decimal("5000.00")}
    dearer = {"current_price": Decimal("6000.00"), "target_price": Decimal("12000.00")}
    assert plan_change_kind(current=current, target=target, **cheaper) == "downgrade"
    assert plan_change_kind(current=current, target=target, **dearer) == "upgrade"


def test_the_drop_down_proposes_the_lowest_upgrade(subscription, plans):
    choices = upgrade_choices(subscription=subscription)
    assert [p.code for p in choices.plans] == ["essentiel", "professionnel", "entreprise"]
    assert choices.proposed == plans["entreprise"]


def test_on_the_highest_plan_the_drop_down_proposes_the_current_one(subscription, plans):
    subscription.plan = plans["entreprise"]
    assert upgrade_choices(subscription=subscription).proposed == plans["entreprise"]
