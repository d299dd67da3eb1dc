from datetime import date, timedelta
from decimal import Decimal

import factory

from accounts.models import BillingContact, Membership, Organisation, User

PASSWORD = "billing-demo"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    address_line1 = "14 quai Saint-Antoine"
    postal_code = "69002"
    city = "Lyon"
    country = "FR"
    vat_number = "FR44732829320"
    currency = "EUR"
    language = "fr"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organisation = factory.SubFactory(OrganisationFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MANAGER


class BillingContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingContact

    organisation = factory.SubFactory(OrganisationFactory)
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


# --- Subscriptions ---

import datetime as _dt  # noqa: E402
from decimal import Decimal as _Decimal  # noqa: E402

from django.utils import timezone as _timezone  # noqa: E402

from subscriptions.models import Plan, PlanPrice, Subscription  # noqa: E402
from subscriptions.periods import one_year_after  # noqa: E402


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"plan-{n}")
    name_fr = factory.LazyAttribute(lambda o: o.code.capitalize())
    name_en = factory.LazyAttribute(lambda o: o.code.capitalize())
    rank = factory.Sequence(lambda n: 100 + n)


class PlanPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanPrice
        django_get_or_create = ("plan", "currency")

    plan = factory.SubFactory(PlanFactory)
    currency = "EUR"
    yearly_amount = _Decimal("1200.00")


class SubscriptionFactory(factory.django.DjangoModelFactory):
    """A yearly subscription that started 100 days ago (about 265 days left)."""

    class Meta:
        model = Subscription

    organisation = factory.SubFactory(OrganisationFactory)
    plan = factory.SubFactory(PlanFactory)
    period_start = factory.LazyFunction(lambda: _timezone.localdate() - _dt.timedelta(days=100))
    period_end = factory.LazyAttribute(lambda o: one_year_after(o.period_start))


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An issued invoice written directly, for tests that need many (lists, query counts).

    Real invoices come from invoices.services.invoice_issue; these take numbers far above
    the sequence's so both kinds can live in one test.
    """

    class Meta:
        model = "invoices.Invoice"

    organisation = factory.SubFactory(OrganisationFactory)
    sequence = factory.Sequence(lambda n: 900_000 + n)
    number = factory.LazyAttribute(lambda o: f"INV-{o.sequence}")
    issue_date = date(2026, 1, 15)
    due_date = factory.LazyAttribute(lambda o: o.issue_date + timedelta(days=30))
    currency = "EUR"
    language = "fr"
    subtotal = Decimal("100.00")
    vat_rate = Decimal("20.00")
    vat_amount = Decimal("20.00")
    total = Decimal("120.00")
    tax_treatment = "domestic"
    seller_legal_name = "Palmarès Logiciels SAS"
    seller_legal_form = "SAS au capital de 50 000 €"
    seller_address_lines = factory.LazyFunction(lambda: ["12 rue de la Paix", "75002 Paris"])
    seller_country = "FR"
    seller_siren = "552100554"
    seller_rcs = "RCS Paris 552 100 554"
    seller_vat_number = "FR96552100554"
    seller_iban = "FR7630006000011234567890189"
    seller_bic = "AGRIFRPPXXX"
    buyer_legal_name = factory.LazyAttribute(lambda o: o.organisation.name)
    buyer_address_lines = factory.LazyFunction(lambda: ["14 quai Saint-Antoine", "69002 Lyon"])
    buyer_country = "FR"
    buyer_vat_number = "FR44732829320"


# --- Invoices with a line ---

_InvoiceWithoutLines = InvoiceFactory


class InvoiceFactory(_InvoiceWithoutLines):  # noqa: F811 - extends the factory above
    """The invoice above, plus one line carrying its subtotal when it is saved.

    Every issued invoice has at least one line, and its PDF (a Factur-X document) cannot be
    rendered without: the EN 16931 XML embedded in it requires one. `build()` adds none
    (the rows are bulk-created by the caller).
    """

    class Meta:
        skip_postgeneration_save = True  # an issued invoice cannot be saved twice

    @factory.post_generation
    def lines(obj, create, extracted, **kwargs):  # noqa: N805
        if not create:
            return
        from invoices.models import InvoiceLine

        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(
                    invoice=obj,
                    position=1,
                    description="Abonnement annuel — forfait Professionnel",
                    quantity=Decimal(1),
                    unit_price=obj.subtotal,
                    vat_rate=obj.vat_rate,
                    amount=obj.subtotal,
                )
            ]
        )
