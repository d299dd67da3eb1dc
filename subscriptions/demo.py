"""Demo plans and subscriptions (idempotent)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Organisation

from .models import Plan, PlanPrice, Subscription
from .periods import one_year_before

PLANS = [
    {
        "code": "essentiel",
        "name_fr": "Essentiel",
        "name_en": "Essential",
        "rank": 1,
        "prices": {"EUR": "2400.00", "USD": "2600.00", "GBP": "2100.00"},
        "features_fr": ["1 programme", "500 candidatures par an", "Support par e-mail"],
        "features_en": ["1 program", "500 entries a year", "Email support"],
    },
    {
        "code": "professionnel",
        "name_fr": "Professionnel",
        "name_en": "Professional",
        "rank": 2,
        "prices": {"EUR": "6000.00", "USD": "6500.00", "GBP": "5200.00"},
        "features_fr": [
            "5 programmes",
            "5 000 candidatures par an",
            "Jugement en ligne",
            "Support prioritaire",
        ],
        "features_en": ["5 programs", "5,000 entries a year", "Online judging", "Priority support"],
    },
    {
        "code": "entreprise",
        "name_fr": "Entreprise",
        "name_en": "Enterprise",
        "rank": 3,
        "prices": {"EUR": "12000.00", "USD": "13000.00", "GBP": "10400.00"},
        "features_fr": [
            "Programmes illimités",
            "Candidatures illimitées",
            "SSO et API",
            "Responsable de compte dédié",
        ],
        "features_en": [
            "Unlimited programs",
            "Unlimited entries",
            "SSO and API",
            "Dedicated account manager",
        ],
    },
]


def seed_plans() -> dict[str, Plan]:
    plans = {}
    for spec in PLANS:
        plan, _created = Plan.objects.update_or_create(
            code=spec["code"],
            defaults={
                k: spec[k] for k in ("name_fr", "name_en", "rank", "features_fr", "features_en")
            },
        )
        for currency, amount in spec["prices"].items():
            PlanPrice.objects.update_or_create(
                plan=plan, currency=currency, defaults={"yearly_amount": Decimal(amount)}
            )
        plans[plan.code] = plan
    return plans


def seed():
    plans = seed_plans()
    today = timezone.localdate()
    # Lyon renews in about three months; Stockholm in about seven.
    for name, code, renews_in in (
        ("Festival International du Film de Lyon", "professionnel", 95),
        ("Nordic Design Awards", "essentiel", 210),
    ):
        organisation = Organisation.objects.filter(name=name).first()
        if organisation is None or Subscription.objects.filter(organisation=organisation).exists():
            continue
        period_end = today + timedelta(days=renews_in)
        period_start = one_year_before(period_end)
        Subscription.objects.create(
            organisation=organisation,
            plan=plans[code],
            period_start=period_start,
            period_end=period_end,
        )
