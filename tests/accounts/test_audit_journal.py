"""The audit journal support reads (the admin): each event's stored values as labelled,
translated values, never a Python dict."""

from django.urls import reverse
from django.utils import translation

from accounts.audit import audit_record, values_display


def test_values_are_labelled_and_printed_like_the_pages_print_them():
    values = {
        "number": "INV-10682",
        "issue_date": "2026-10-01",
        "total": "1020.00",
        "currency": "EUR",
        "method": "transfer",
        "invoices": {"INV-10681": "650.00"},
        "expires_at": "2026-10-01T08:30:00+00:00",
        "reopened": True,
        "note": "",
    }
    with translation.override("fr"):
        shown = dict(values_display(values))
    assert shown["Numéro"] == "INV-10682"
    assert shown["Date d'émission"] == "1er octobre 2026"
    assert shown["Total"] == "1\xa0020,00\xa0€"
    assert shown["Mode de paiement"] == "Virement"
    assert shown["Factures"] == "INV-10681 (650,00\xa0€)"
    assert shown["Lien valable jusqu'au"] == "1er octobre 2026 à 10:30"  # Paris time
    assert shown["reopened"] == "oui"  # a key not named yet: shown as stored, readable
    assert shown["Note"] == "—"
    with translation.override("en"):
        shown = dict(values_display(values))
    assert shown["Total"] == "€1,020.00" and shown["Payment method"] == "Transfer"


def test_plans_are_named_and_an_empty_event_shows_nothing():
    with translation.override("fr"):
        assert values_display({"plan": "essentiel"}, {"essentiel": "Essentiel"}) == [
            ("Forfait", "Essentiel")
        ]
        assert values_display({}) == []
        assert values_display(None) == []


def test_the_account_page_and_the_event_page_show_words(client, support_user, owner):
    event = audit_record(
        organisation=owner.organisation,
        action="payment.recorded",
        before={},
        after={"amount": "650.00", "currency": "EUR", "method": "transfer"},
    )
    client.force_login(support_user)
    for url in (
        reverse("admin:accounts_organisation_change", args=[owner.organisation_id]),
        reverse("admin:accounts_auditevent_change", args=[event.pk]),
    ):
        html = client.get(url).content.decode()
        assert "Paiement enregistré" in html
        assert "Montant : 650,00\xa0€" in html and "Mode de paiement : Virement" in html
        assert "{&#x27;" not in html and "{'" not in html
