"""Demo accounts, people and roles (idempotent: running it twice changes nothing)."""

from django.contrib.auth.models import Group, Permission

from .models import BillingContact, Membership, Organisation, User

DEMO_PASSWORD = "billing-demo"

SUPPORT_GROUP = "Support"
SUPPORT_PERMISSIONS = {
    "accounts": ["organisation", "membership", "billingcontact", "auditevent", "user"],
    "emails": ["email"],
    "invoices": [
        "invoice",
        "invoiceline",
        "invoicestatusevent",
        "numbersequence",
        "exchangerate",
    ],
    "payments": [
        "payment",
        "allocation",
        "allocationreversal",
        "refund",
        "bankstatement",
        "bankentry",
        "mandate",
        "collection",
        "directdebitexport",
        "reminder",
    ],
    "subscriptions": [
        "plan",
        "planprice",
        "feature",
        "subscription",
        "confirmation",
        "accountclosure",
    ],
    "support": ["supportrequest"],
    "webhooks": ["webhookendpoint", "webhookevent", "webhookdelivery"],
    "api": ["apiclient", "apikey", "clientaccount"],
}
# Support maintains the exchange rates (invoices.admin) and the pricing page's features
# (subscriptions.admin): adds, corrects and removes them.
SUPPORT_MAINTAIN = {"exchangerate", "feature", "webhookendpoint"}
SUPPORT_CHANGE = {
    "invoice",
    "payment",
    "bankentry",
    "directdebitexport",
    "mandate",
    "organisation",
    "billingcontact",
    "subscription",
    "email",
    "supportrequest",
    "webhookdelivery",
    # The host's API clients and keys (api.admin): support makes keys and revokes them.
    "apiclient",
    "apikey",
}
SUPPORT_ADD = {"apiclient", "apikey"}


def _user(email, first_name, last_name, **extra):
    user, created = User.objects.get_or_create(
        email=email, defaults={"first_name": first_name, "last_name": last_name, **extra}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def _account(name, members, contacts=(), **fields):
    organisation, _created = Organisation.objects.get_or_create(name=name, defaults=fields)
    for user, role in members:
        Membership.objects.get_or_create(
            user=user, organisation=organisation, defaults={"role": role}
        )
    for first_name, last_name, email in contacts:
        BillingContact.objects.get_or_create(
            organisation=organisation,
            email=email,
            defaults={"first_name": first_name, "last_name": last_name},
        )
    return organisation


def support_group() -> Group:
    group, _created = Group.objects.get_or_create(name=SUPPORT_GROUP)
    wanted = []
    for models in SUPPORT_PERMISSIONS.values():
        for model in models:
            actions = ["view"] + (["change"] if model in SUPPORT_CHANGE else [])
            actions += ["add"] if model in SUPPORT_ADD else []
            if model in SUPPORT_MAINTAIN:
                actions += ["add", "change", "delete"]
            wanted += [f"{action}_{model}" for action in actions]
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=SUPPORT_PERMISSIONS, codename__in=wanted
        )
    )
    return group


def seed():
    owner = _user("owner@example.com", "Camille", "Martin")
    manager = _user("manager@example.com", "Julien", "Bernard")
    manager2 = _user("manager2@example.com", "Sophie", "Petit")
    lyon = _account(
        "Festival International du Film de Lyon",
        [
            (owner, Membership.Role.OWNER),
            (manager, Membership.Role.MANAGER),
            (manager2, Membership.Role.MANAGER),
        ],
        [("Claire", "Dubois", "compta@example.com")],
        address_line1="14 quai Saint-Antoine",
        postal_code="69002",
        city="Lyon",
        country="FR",
        vat_number="FR44732829320",
        siren="732829320",
        # The festival's screenings happen at the Institut Lumière, not at its office.
        delivery_line1="Institut Lumière",
        delivery_line2="25 rue du Premier-Film",
        delivery_postal_code="69008",
        delivery_city="Lyon",
        delivery_country="FR",
        order_reference="BC-2026-0142",
        currency="EUR",
        language="fr",
    )
    other = _user("other@example.com", "Erik", "Lund")
    nordic = _account(
        "Nordic Design Awards",
        # Camille Martin also manages this account's programme: the header's switcher
        # shows in the demo (a person with several accounts).
        [(other, Membership.Role.OWNER), (owner, Membership.Role.MANAGER)],
        address_line1="Sveavägen 24",
        postal_code="111 57",
        city="Stockholm",
        country="SE",
        vat_number="SE556677889901",
        currency="EUR",
        language="en",
    )
    support = _user("support@example.com", "Léa", "Moreau", is_staff=True)
    support.groups.add(support_group())
    return {"lyon": lyon, "nordic": nordic}
