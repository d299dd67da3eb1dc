"""Demo plans and subscriptions (idempotent)."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Organisation

from .models import Feature, Plan, PlanFeature, PlanPrice, Subscription
from .periods import one_year_before

PLANS = [
    {
        "code": "essentiel",
        "name_fr": "Essentiel",
        "name_en": "Essential",
        "rank": 1,
        "prices": {"EUR": "2400.00", "USD": "2600.00", "GBP": "2100.00"},
    },
    {
        "code": "professionnel",
        "name_fr": "Professionnel",
        "name_en": "Professional",
        "rank": 2,
        "prices": {"EUR": "6000.00", "USD": "6500.00", "GBP": "5200.00"},
    },
    {
        "code": "entreprise",
        "name_fr": "Entreprise",
        "name_en": "Enterprise",
        "rank": 3,
        "prices": {"EUR": "12000.00", "USD": "13000.00", "GBP": "10400.00"},
    },
]

# The comparison on the pricing page, one row per feature. Per plan (in PLANS' order):
# True (included), False (not included), or the value printed instead of a check mark,
# in French and English.
YES, NO = True, False
FEATURES = [
    (
        "programmes",
        "Programmes de prix",
        "Award programs",
        [("1", "1"), ("5", "5"), ("Illimités", "Unlimited")],
    ),
    (
        "candidatures",
        "Candidatures par an",
        "Entries a year",
        [("500", "500"), ("5 000", "5,000"), ("Illimitées", "Unlimited")],
    ),
    (
        "gestionnaires",
        "Gestionnaires du programme",
        "Program managers",
        [("3", "3"), ("15", "15"), ("Illimités", "Unlimited")],
    ),
    ("formulaires", "Formulaires de candidature personnalisés", "Custom entry forms", [YES] * 3),
    ("jugement", "Jugement en ligne", "Online judging", [NO, YES, YES]),
    ("vote-public", "Vote du public", "People's choice voting", [NO, YES, YES]),
    ("paiements", "Frais de candidature payés en ligne", "Online entry fees", [NO, YES, YES]),
    ("domaine", "Domaine et marque personnalisés", "Custom domain and branding", [NO, NO, YES]),
    ("sso", "Authentification unique (SSO)", "Single sign-on (SSO)", [NO, NO, YES]),
    ("api", "API et webhooks", "API and webhooks", [NO, NO, YES]),
    (
        "support",
        "Support",
        "Support",
        [
            ("Par e-mail", "Email"),
            ("Prioritaire", "Priority"),
            ("Responsable dédié", "Dedicated manager"),
        ],
    ),
]


def seed_plans() -> dict[str, Plan]:
    plans = {}
    for spec in PLANS:
        plan, _created = Plan.objects.update_or_create(
            code=spec["code"],
            defaults={k: spec[k] for k in ("name_fr", "name_en", "rank")},
        )
        for currency, amount in spec["prices"].items():
            PlanPrice.objects.update_or_create(
                plan=plan, currency=currency, defaults={"yearly_amount": Decimal(amount)}
            )
        plans[plan.code] = plan
    seed_features(plans)
    return plans


def seed_features(plans: dict[str, Plan]) -> None:
    """The demo's comparison is exactly FEATURES: rows of an older demo are removed."""
    Feature.objects.exclude(code__in=[code for code, *_rest in FEATURES]).delete()
    for position, (code, label_fr, label_en, cells) in enumerate(FEATURES, start=1):
        feature, _created = Feature.objects.update_or_create(
            code=code, defaults={"label_fr": label_fr, "label_en": label_en, "position": position}
        )
        for spec, cell in zip(PLANS, cells, strict=True):
            value_fr, value_en = ("", "") if isinstance(cell, bool) else cell
            PlanFeature.objects.update_or_create(
                feature=feature,
                plan=plans[spec["code"]],
                defaults={
                    "included": cell is not False,
                    "value_fr": value_fr,
                    "value_en": value_en,
                },
            )


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
