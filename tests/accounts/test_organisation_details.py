"""The organisation's details printed on its invoices besides the address and VAT number:
its SIREN, its delivery address and its own references (accounts.services.organisation)."""

import pytest
from django.core.exceptions import ValidationError

from accounts import services
from accounts.audit import summary
from accounts.models import AuditEvent, Organisation
from tests.factories import OrganisationFactory


def _stored(organisation):
    return Organisation.objects.filter(pk=organisation.pk).values().get()


def _refused(call, field, message, organisation):
    before = _stored(organisation)
    with pytest.raises(ValidationError) as excinfo:
        call()
    assert list(excinfo.value.message_dict) == [field]
    assert message in " ".join(excinfo.value.message_dict[field])
    assert _stored(organisation) == before
    assert not AuditEvent.objects.exists()


# --- SIREN ------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["732829320", "732 829 320", " 732.829.320 "])
def test_siren_is_stored_as_nine_digits_and_audited(owner, typed):
    organisation = services.organisation_update_siren(
        organisation=owner.organisation, siren=typed, actor=owner.user, ip="203.0.113.5"
    )
    assert _stored(organisation)["siren"] == "732829320"
    event = AuditEvent.objects.get(action="organisation.siren_changed")
    assert (event.before, event.after) == ({"siren": ""}, {"siren": "732829320"})
    assert (event.actor, event.ip_address) == (owner.user, "203.0.113.5")
    assert summary(event) == "Aucun → 732829320"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("732829321", "Ce SIREN n'existe pas : son dernier chiffre (la clé)"),
        ("73282932", "Un SIREN compte 9 chiffres, ex. 732 829 320."),
        ("7328293200", "Un SIREN compte 9 chiffres"),
        ("73282932A", "Un SIREN compte 9 chiffres"),
        ("FR44732829320", "Un SIREN compte 9 chiffres"),
        ("", "Le SIREN est obligatoire pour une organisation établie en France"),
        ("   ", "Le SIREN est obligatoire pour une organisation établie en France"),
    ],
)
def test_a_wrong_siren_is_refused_with_what_is_expected(owner, typed, message):
    _refused(
        lambda: services.organisation_update_siren(
            organisation=owner.organisation, siren=typed, actor=owner.user
        ),
        "siren",
        message,
        owner.organisation,
    )


def test_a_siren_contradicting_the_french_vat_number_is_refused(owner):
    # FR44732829320 contains the SIREN 732829320; 552100554 is valid, but another company.
    _refused(
        lambda: services.organisation_update_siren(
            organisation=owner.organisation, siren="552100554", actor=owner.user
        ),
        "siren",
        "Ce SIREN ne correspond pas au numéro de TVA FR44732829320, qui contient le SIREN "
        "732829320.",
        owner.organisation,
    )


def test_a_french_vat_number_contradicting_the_siren_is_refused(owner):
    organisation = owner.organisation
    Organisation.objects.filter(pk=organisation.pk).update(vat_number="", siren="552100554")
    organisation.refresh_from_db()
    _refused(
        lambda: services.organisation_update_vat(
            organisation=organisation, vat_number="FR44732829320", actor=owner.user
        ),
        "vat_number",
        "Ce numéro de TVA contient le SIREN 732829320, et non celui de votre organisation "
        "(552100554).",
        organisation,
    )
    # The way out the message gives: clear the VAT number, correct the SIREN, enter it.
    services.organisation_update_siren(organisation=organisation, siren="732829320", actor=None)
    services.organisation_update_vat(
        organisation=organisation, vat_number="FR44732829320", actor=None
    )
    assert _stored(organisation)["vat_number"] == "FR44732829320"


@pytest.mark.parametrize("country", ["DE", "US", "MC"])
def test_outside_france_the_siren_may_stay_empty_or_be_given(db, country):
    organisation = OrganisationFactory(country=country, vat_number="", postal_code="")
    services.organisation_update_siren(organisation=organisation, siren="", actor=None)
    assert not AuditEvent.objects.exists()  # nothing changed: nothing recorded
    # A foreign company registered in France has one.
    services.organisation_update_siren(organisation=organisation, siren="552100554", actor=None)
    assert _stored(organisation)["siren"] == "552100554"
    services.organisation_update_siren(organisation=organisation, siren="", actor=None)
    assert _stored(organisation)["siren"] == ""


def test_an_invalid_siren_is_refused_outside_france_too(db):
    organisation = OrganisationFactory(country="DE", vat_number="", postal_code="10785")
    _refused(
        lambda: services.organisation_update_siren(
            organisation=organisation, siren="123456789", actor=None
        ),
        "siren",
        "Ce SIREN n'existe pas",
        organisation,
    )


def test_support_sets_the_siren_through_the_same_service(owner, support_user):
    services.organisation_update_siren(
        organisation=owner.organisation, siren="732829320", actor=support_user, by_support=True
    )
    event = AuditEvent.objects.get(action="organisation.siren_changed")
    assert event.actor_label == "support: Léa Moreau"


def test_invoices_print_the_siren_of_the_vat_number_until_one_is_entered(owner):
    organisation = owner.organisation
    assert organisation.invoice_siren == "732829320"  # from FR44732829320
    Organisation.objects.filter(pk=organisation.pk).update(vat_number="")
    organisation.refresh_from_db()
    assert organisation.invoice_siren == ""
    organisation = services.organisation_update_siren(
        organisation=organisation, siren="552100554", actor=None
    )
    assert organisation.invoice_siren == "552100554"


# --- Delivery address -------------------------------------------------------------------------

DELIVERY = {
    "delivery_line1": "Institut Lumière",
    "delivery_line2": "25 rue du Premier-Film",
    "delivery_postal_code": "69008",
    "delivery_city": "Lyon",
    "delivery_country": "FR",
}


def test_a_delivery_address_is_stored_audited_and_removed(owner):
    organisation = services.organisation_update_delivery_address(
        organisation=owner.organisation,
        **{**DELIVERY, "delivery_line1": "  Institut   Lumière "},
        actor=owner.user,
    )
    stored = _stored(organisation)
    assert {field: stored[field] for field in DELIVERY} == DELIVERY
    assert organisation.has_delivery_address
    event = AuditEvent.objects.get(action="organisation.delivery_address_changed")
    assert event.after == DELIVERY
    assert summary(event) == "Institut Lumière, 25 rue du Premier-Film, 69008 Lyon, France"

    # All lines empty removes it, whatever the country says.
    organisation = services.organisation_update_delivery_address(
        organisation=organisation,
        delivery_line1=" ",
        delivery_country="FR",
        actor=owner.user,
    )
    stored = _stored(organisation)
    assert all(stored[field] == "" for field in DELIVERY)
    assert not organisation.has_delivery_address
    removed = AuditEvent.objects.filter(action="organisation.delivery_address_changed").first()
    assert summary(removed) == "supprimée"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"delivery_line1": ""}, "delivery_line1", "Ce champ est obligatoire."),
        ({"delivery_city": ""}, "delivery_city", "Ce champ est obligatoire."),
        ({"delivery_postal_code": "6900"}, "delivery_postal_code", "5 chiffres"),
        ({"delivery_country": "XX"}, "delivery_country", "Choisissez un pays de la liste."),
        ({"delivery_line2": "x" * 201}, "delivery_line2", "200 caractères au maximum."),
        ({"delivery_city": "Lyon\x00"}, "delivery_city", "Caractères non autorisés."),
    ],
)
def test_a_wrong_delivery_address_is_refused_field_by_field(owner, change, field, message):
    _refused(
        lambda: services.organisation_update_delivery_address(
            organisation=owner.organisation, **{**DELIVERY, **change}, actor=owner.user
        ),
        field,
        message,
        owner.organisation,
    )


# --- References -------------------------------------------------------------------------------


def test_references_are_stored_audited_and_cleared(owner):
    organisation = services.organisation_update_references(
        organisation=owner.organisation,
        order_reference=" EJ-2026-000123 ",
        buyer_reference="SERVICE  COMMUNICATION",
        actor=owner.user,
    )
    stored = _stored(organisation)
    assert (stored["order_reference"], stored["buyer_reference"]) == (
        "EJ-2026-000123",
        "SERVICE COMMUNICATION",
    )
    event = AuditEvent.objects.get(action="organisation.references_changed")
    assert summary(event) == (
        "bon de commande : Aucun → EJ-2026-000123 · "
        "référence acheteur : Aucun → SERVICE COMMUNICATION"
    )
    services.organisation_update_references(
        organisation=organisation, order_reference="", buyer_reference="", actor=owner.user
    )
    stored = _stored(organisation)
    assert (stored["order_reference"], stored["buyer_reference"]) == ("", "")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"order_reference": "x" * 51}, "order_reference", "50 caractères au maximum."),
        ({"buyer_reference": "x" * 101}, "buyer_reference", "100 caractères au maximum."),
        ({"order_reference": "EJ\x0712"}, "order_reference", "Caractères non autorisés."),
        ({"buyer_reference": "SC\x9f"}, "buyer_reference", "Caractères non autorisés."),
    ],
)
def test_wrong_references_are_refused(owner, change, field, message):
    _refused(
        lambda: services.organisation_update_references(
            organisation=owner.organisation,
            **{"order_reference": "EJ-1", "buyer_reference": "SC-1", **change},
            actor=owner.user,
        ),
        field,
        message,
        owner.organisation,
    )


def test_the_longest_references_are_accepted(owner):
    services.organisation_update_references(
        organisation=owner.organisation,
        order_reference="E" * 50,
        buyer_reference="S" * 100,
        actor=owner.user,
    )
    stored = _stored(owner.organisation)
    assert (len(stored["order_reference"]), len(stored["buyer_reference"])) == (50, 100)


@pytest.mark.parametrize(
    "call",
    [
        lambda o: services.organisation_update_siren(organisation=o, siren="", actor=None),
        lambda o: services.organisation_update_delivery_address(organisation=o, actor=None),
        lambda o: services.organisation_update_references(organisation=o, actor=None),
    ],
)
def test_a_closed_account_changes_none_of_them(db, call):
    organisation = OrganisationFactory(status=Organisation.Status.CLOSED)
    with pytest.raises(ValidationError, match="Ce compte est fermé."):
        call(organisation)
