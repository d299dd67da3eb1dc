"""The Contacts tab's « Activité récente »: each change as a phrase in the page's language,
not the stored values (plan codes, ISO dates, raw amounts)."""

from datetime import date
from decimal import Decimal

from django.urls import reverse
from django.utils import translation

from accounts import services
from accounts.audit import audit_record
from accounts.selectors import recent_activity
from invoices.services import credit_note_issue, invoice_issue
from invoices.totals import LineSpec


def details(organisation, language="fr"):
    with translation.override(language):
        return [(e["what"], e["detail"]) for e in recent_activity(organisation=organisation)]


def latest(organisation, language="fr"):
    return details(organisation, language)[0]


def test_contact_changes_name_the_person(owner):
    org = owner.organisation
    contact = services.contact_add(
        organisation=org,
        first_name="Claire",
        last_name="Dubois",
        email="compta@example.com",
        actor=owner.user,
    )
    assert latest(org) == ("Contact de facturation ajouté", "Claire Dubois (compta@example.com)")
    contact = services.contact_update(
        contact=contact,
        first_name="Claire",
        last_name="Dubois",
        email="claire@example.com",
        actor=owner.user,
    )
    assert latest(org)[1] == (
        "Claire Dubois (compta@example.com) → Claire Dubois (claire@example.com)"
    )
    services.contact_remove(contact=contact, actor=owner.user)
    assert latest(org) == (
        "Contact de facturation supprimé",
        "Claire Dubois (claire@example.com)",
    )


def test_address_and_vat_number_read_as_written(owner):
    org = owner.organisation
    services.organisation_update_address(
        organisation=org,
        address_line1="3 rue de la Paix",
        postal_code="75002",
        city="Paris",
        country="FR",
        actor=owner.user,
    )
    assert latest(org) == ("Adresse modifiée", "3 rue de la Paix, 75002 Paris, France")
    assert latest(org, "en")[1] == "3 rue de la Paix, 75002 Paris, France"
    old = org.vat_number
    services.organisation_update_vat(organisation=org, vat_number="", actor=owner.user)
    assert latest(org) == ("Numéro de TVA modifié", f"{old} → Aucun")
    assert latest(org, "en")[1] == f"{old} → None"


def test_ownership_transfer_names_both_owners(owner, manager):
    services.ownership_transfer(
        organisation=owner.organisation,
        new_owner_membership_id=manager.pk,
        actor=owner.user,
    )
    assert latest(owner.organisation) == (
        "Propriétaire du compte modifié",
        "owner@example.com → manager@example.com",
    )


def test_invoices_and_credit_notes_show_number_date_and_amount(owner):
    org = owner.organisation
    invoice = invoice_issue(
        organisation=org,
        lines=[LineSpec(description="Pack", quantity=Decimal(1), unit_price=Decimal("850.00"))],
        issue_date=date(2026, 11, 14),
    )
    total = "1\xa0020,00\xa0€"  # 850 € + 20 % VAT, as the Factures tab prints it
    assert latest(org) == ("Facture émise", f"{invoice.number} du 14/11/2026, {total}")
    assert latest(org, "en") == (
        "Invoice issued",
        f"{invoice.number} dated 14/11/2026, €1,020.00",
    )
    credit = credit_note_issue(invoice=invoice, actor=owner.user, reason="Erreur de quantité")
    what, detail = latest(org)
    assert what == "Avoir émis"
    assert detail.startswith(f"{credit.number} du ")
    assert detail.endswith(f"−{total} · annule {invoice.number}")
    assert "Erreur de quantité" not in detail  # support's reasons stay in the admin


def test_plan_changes_name_the_plans_not_their_codes(owner, plans):
    org = owner.organisation
    audit_record(  # the shapes subscriptions.services stores
        organisation=org,
        action="upgrade.requested",
        before={"plan": "professionnel"},
        after={
            "plan": "entreprise",
            "estimate_total": "1234.50",
            "currency": "EUR",
            "expires_at": "2026-11-27T10:00:00+00:00",
            "superseded": 0,
        },
    )
    assert latest(org) == (
        "Mise à niveau demandée",
        "Professionnel → Entreprise, 1\xa0234,50\xa0€ TTC, à confirmer au plus tard le 27/11/2026",
    )
    audit_record(
        organisation=org,
        action="upgrade.confirmed",
        before={"plan": "professionnel", "next_plan": None},
        after={"plan": "entreprise", "invoice": "INV-7", "total": "1234.50", "currency": "EUR"},
    )
    assert latest(org, "en") == (
        "Upgrade confirmed",
        f"{plans['professionnel'].name_en} → {plans['entreprise'].name_en}, "
        "invoice INV-7 (€1,234.50)",
    )
    audit_record(
        organisation=org,
        action="plan.changed",
        before={"plan": "entreprise", "next_plan": None},
        after={
            "plan": "entreprise",
            "next_plan": "essentiel",
            "effective": "2027-03-01",
            "invoice": None,
            "reason": "Demande du client par téléphone",
        },
    )
    assert latest(org)[1] == "Entreprise → Essentiel au renouvellement du 01/03/2027"
    audit_record(
        organisation=org,
        action="renewal.issued",
        after={"plan": "essentiel", "period": ["2027-03-01", "2028-03-01"], "invoice": "INV-9"},
    )
    assert latest(org) == (
        "Renouvellement facturé",
        "INV-9, forfait Essentiel à partir du 01/03/2027",
    )


def test_closure_events_say_what_happens_next(owner):
    org = owner.organisation
    audit_record(
        organisation=org,
        action="closure.requested",
        after={"expires_at": "2026-11-27T10:00:00+00:00", "superseded": 0},
    )
    assert latest(org) == ("Fermeture du compte demandée", "lien valable jusqu'au 27/11/2026")
    audit_record(
        organisation=org,
        action="closure.confirmed",
        before={"status": "active"},
        after={"status": "closed", "anonymise_after": "2026-12-26T10:00:00+00:00"},
    )
    assert latest(org, "en")[1] == "personal data to be erased on 26/12/2026"
    audit_record(
        organisation=org,
        action="account.reopened",
        actor=None,
        support=True,
        before={"status": "closed", "closed_at": "2026-11-26T10:00:00+00:00"},
        after={"status": "active", "reason": "Fermeture par erreur (appel du client)"},
    )
    assert latest(org) == ("Compte rouvert", "effacement des données personnelles annulé")


def test_an_unexpected_stored_shape_still_shows_its_values(owner):
    audit_record(organisation=owner.organisation, action="invoice.issued", after={"n": "F-1"})
    assert latest(owner.organisation) == ("Facture émise", "F-1")


def test_anonymised_people_read_as_anonymised(owner):
    audit_record(
        organisation=owner.organisation,
        action="contact.removed",
        before={"name": "[anonymisé]", "email": "[anonymisé]"},
    )
    assert latest(owner.organisation, "en")[1] == "[anonymised] ([anonymised])"


def test_the_tab_shows_the_phrases(client_for, owner, plans):
    audit_record(
        organisation=owner.organisation,
        action="renewal.issued",
        after={"plan": "essentiel", "period": ["2027-03-01", "2028-03-01"], "invoice": "INV-9"},
    )
    html = client_for(owner).get(reverse("portal:contacts")).content.decode()
    assert "INV-9, forfait Essentiel à partir du 01/03/2027" in html
    assert "essentiel" not in html and "2027-03-01" not in html


def test_plan_names_cost_one_query_whatever_the_number_of_events(
    owner, plans, django_assert_num_queries
):
    for n in range(10):
        audit_record(
            organisation=owner.organisation,
            action="renewal.issued",
            after={"plan": "essentiel", "period": ["2027-03-01", "2028-03-01"], "invoice": n},
        )
    with django_assert_num_queries(2):  # the events, then the plans
        activity = recent_activity(organisation=owner.organisation)
    assert {e["detail"] for e in activity} == {
        f"{n}, forfait Essentiel à partir du 01/03/2027" for n in range(10)
    }


def test_support_undoing_a_planned_change_reads_as_such(owner, plans):
    audit_record(  # support chose the current plan: the planned downgrade is cancelled
        organisation=owner.organisation,
        action="plan.changed",
        before={"plan": "entreprise", "next_plan": "essentiel"},
        after={"plan": "entreprise", "next_plan": None, "effective": "2027-03-01"},
    )
    assert latest(owner.organisation)[1] == "passage au forfait Essentiel annulé"
    assert latest(owner.organisation, "en")[1] == (
        f"change to the {plans['essentiel'].name_en} plan cancelled"
    )


def test_deadlines_are_days_in_the_portal_time_zone(owner):
    audit_record(  # 23:30 UTC on the 27th is 00:30 on the 28th in Paris, as the email says
        organisation=owner.organisation,
        action="closure.requested",
        after={"expires_at": "2026-11-27T23:30:00+00:00", "superseded": 0},
    )
    assert latest(owner.organisation)[1] == "lien valable jusqu'au 28/11/2026"


def test_an_anonymised_amount_does_not_break_the_tab(client_for, owner):
    audit_record(
        organisation=owner.organisation,
        action="invoice.issued",
        after={
            "number": "INV-1",
            "issue_date": "2026-11-14",
            "total": "[anonymisé]",
            "currency": "EUR",
        },
    )
    response = client_for(owner).get(reverse("portal:contacts"))
    assert response.status_code == 200
    # The stored values as they are (their order is the database's: jsonb sorts keys).
    detail = latest(owner.organisation)[1]
    assert sorted(detail.split(" · ")) == sorted(["INV-1", "2026-11-14", "[anonymisé]", "EUR"])
    assert detail in response.content.decode()
