"""The « Prélèvement SEPA » page, the confirm page for mandate links, the signed mandate's PDF
and what invoices say when they will be collected."""

import html
import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from accounts.models import Organisation
from emails.models import Email
from payments import mandate_pdf
from payments.models import Collection, Mandate
from subscriptions.models import Confirmation

from .conftest import invoice
from .mandates import latest_token, pdf_text, sign, sign_and_confirm, values

PAGE = reverse("portal:direct_debit")
SIGN = reverse("portal:mandate_sign")
REVOKE = reverse("portal:mandate_revoke")
TAB = reverse("portal:invoices")


def text(response) -> str:
    return " ".join(html.unescape(response.content.decode()).split())


def form(**overrides):
    return {**values(**overrides), "accept": "on"}


def test_the_factures_tab_leads_to_the_direct_debit_page(client_for, owner):
    page = text(client_for(owner).get(TAB))
    assert "Prélèvement SEPA" in page and f'href="{PAGE}"' in page
    assert "Mettre en place le prélèvement" in page


def test_the_page_shows_the_mandate_wording_of_both_schemes_with_the_creditor(client_for, owner):
    page = text(client_for(owner).get(PAGE))
    assert "vous autorisez (A) Palmarès Logiciels SAS à envoyer des instructions" in page
    assert "dans les 8 semaines suivant la date de débit" in page  # Core
    assert "destiné uniquement aux prélèvements interentreprises" in page  # B2B
    assert "FR72ZZZ123456" in page and "12 rue de la Paix" in page
    assert "n'existe qu'en euros" in page


def test_the_page_speaks_english_to_an_english_account(client_for, owner):
    Organisation.objects.filter(pk=owner.organisation.pk).update(language="en")
    client = client_for(owner)
    client.cookies["django_language"] = "en"
    page = text(client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en"))
    assert "By signing this mandate form, you authorise (A) Palmarès Logiciels SAS" in page
    assert "A refund must be claimed within 8 weeks" in page


def test_signing_from_the_page_sends_the_email_and_says_so(client_for, owner):
    response = client_for(owner).post(SIGN, form(), follow=True)
    assert response.status_code == 200
    page = text(response)
    assert "Nous vous avons envoyé un e-mail pour confirmer le mandat." in page
    assert "attend votre confirmation" in page
    assert Mandate.objects.get().status == "pending"
    assert Email.objects.filter(kind="mandate_request").count() == 1


def test_a_bad_iban_shows_the_form_again_with_the_message(client_for, owner):
    response = client_for(owner).post(SIGN, form(iban="FR14 2004 1010 0505 0001 3M02 607"))
    assert response.status_code == 200
    assert "Cet IBAN n'est pas valide" in text(response)
    assert not Mandate.objects.exists() and not Email.objects.exists()


def test_signing_needs_the_box_ticked(client_for, owner):
    data = form()
    del data["accept"]
    response = client_for(owner).post(SIGN, data)
    assert "Cochez la case pour signer le mandat." in text(response)
    assert not Mandate.objects.exists()


def test_program_manager_gets_403_everywhere(client_for, owner, manager):
    sign_and_confirm(owner)
    reference = Mandate.objects.get().reference
    client = client_for(manager)
    assert client.get(PAGE).status_code == 403
    assert client.post(SIGN, form(iban="DE89370400440532013000")).status_code == 403
    assert client.post(REVOKE).status_code == 403
    assert client.get(reverse("portal:mandate_pdf", args=[reference])).status_code == 403
    assert Mandate.objects.get().iban == "FR1420041010050500013M02606"
    assert not Confirmation.objects.filter(kind="mandate_revoke").exists()


def test_another_accounts_mandate_pdf_is_a_404(client_for, owner, other_owner):
    sign_and_confirm(other_owner)
    reference = Mandate.objects.get().reference
    assert client_for(owner).get(reverse("portal:mandate_pdf", args=[reference])).status_code == 404


def test_a_pending_mandate_has_no_pdf_yet(client_for, owner):
    sign(owner)
    reference = Mandate.objects.get().reference
    assert client_for(owner).get(reverse("portal:mandate_pdf", args=[reference])).status_code == 404


def test_the_signed_mandate_pdf_is_downloadable_and_complete(client_for, owner):
    sign_and_confirm(owner)
    mandate = Mandate.objects.get()
    response = client_for(owner).get(reverse("portal:mandate_pdf", args=[mandate.reference]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"mandat-sepa-{mandate.reference}.pdf" in response["Content-Disposition"]
    printed = pdf_text(b"".join(response.streaming_content))
    for expected in (
        mandate.reference,
        "Paiement récurrent",
        "SEPA Core",
        "FR72ZZZ123456",
        "Palmarès Logiciels SAS",
        "FR14 2004 1010 0505 0001 3M02 606",
        "Festival International du Film de Lyon",
        "Lyon",
        "vous autorisez (A) Palmarès Logiciels SAS",
        "8 semaines",
        timezone.localdate().strftime("%Y"),
    ):
        assert expected in printed, expected


def test_the_b2b_pdf_has_no_refund_right_and_tells_to_inform_the_bank(owner):
    sign_and_confirm(owner, scheme="B2B")
    mandate = Mandate.objects.get()
    printed = pdf_text(mandate_pdf.mandate_pdf_open(mandate).read())
    assert "interentreprises" in printed and "informer votre banque" in printed
    assert "8 semaines" not in printed


def test_the_confirm_page_shows_the_mandate_then_confirms_it_once(client, owner):
    token = sign(owner)
    url = reverse("subscription_confirm", args=[token])
    page = text(client.get(url))
    assert "Confirmer le mandat de prélèvement SEPA" in page
    assert "FR14 **** **** **** **** **** 606" in page
    assert Mandate.objects.get().status == "pending"  # a GET changes nothing
    assert client.post(url).status_code == 302
    assert Mandate.objects.get().status == "active"
    assert "Mandat confirmé" in text(client.get(url))
    assert client.post(url).status_code == 302  # a double click: the same outcome, once
    assert Email.objects.filter(kind="mandate_confirmed").count() == 1


def test_an_expired_mandate_link_says_so_and_changes_nothing(client, owner):
    token = sign(owner)
    Confirmation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(reverse("subscription_confirm", args=[token]))
    assert response.status_code == 410
    assert "Lien expiré" in text(response) and "Prélèvement SEPA" in text(response)
    assert Mandate.objects.get().status == "pending"


def test_revoking_from_the_page_and_the_link(client_for, client, owner):
    invoice(owner.organisation, "INV-20100", "300.00")
    sign_and_confirm(owner)
    response = client_for(owner).post(REVOKE, follow=True)
    assert "confirmer la révocation" in text(response)
    token = latest_token("mandate_revoke_request")
    url = reverse("subscription_confirm", args=[token])
    assert "Confirmer la révocation du mandat" in text(client.get(url))
    client.post(url)
    assert Mandate.objects.get().status == "revoked"
    assert Collection.objects.get().status == "cancelled"
    assert "Aucun mandat en vigueur" in text(client_for(owner).get(PAGE))


# --- Invoices collected by direct debit ------------------------------------------------------


def test_the_invoice_says_when_and_from_which_account_it_will_be_collected(client_for, owner):
    due = invoice(owner.organisation, "INV-20200", "300.00")
    client = client_for(owner)
    before = text(client.get(reverse("portal:invoice_detail", args=[due.number])))
    assert "Par virement bancaire" in before and "inv-qr" in before
    sign_and_confirm(owner)
    collection = Collection.objects.get()
    page = text(client.get(reverse("portal:invoice_detail", args=[due.number])))
    from django.utils import translation

    from billing_portal.formatting import long_date

    with translation.override("fr"):
        day = long_date(collection.collect_on)  # "1er décembre 2026" on the first
    expected = (
        f"sera prélevée le {day} sur le compte "
        f"FR14 **** **** **** **** **** 606 (mandat {Mandate.objects.get().reference}, "
        "ICS FR72ZZZ123456)"
    )
    assert expected in page
    # No transfer asked, no QR code: nobody pays twice.
    assert "Par virement bancaire" not in page and "inv-qr" not in page


def test_the_invoice_pdf_prints_the_planned_collection(owner, plan):
    from invoices.services import invoice_issue
    from tests.invoices.conftest import one_line
    from tests.invoices.test_mentions import pdftotext

    sign_and_confirm(owner)
    issued = invoice_issue(organisation=owner.organisation, lines=one_line("850.00"))
    printed = pdftotext(issued)
    reference = Mandate.objects.get().reference
    assert re.search(r"sera prélevée le \d+ \w+ \d{4} sur le compte FR14 \*{4}", printed)
    assert f"mandat {reference}, ICS FR72ZZZ123456" in printed


def test_a_dollar_invoice_still_asks_for_a_transfer(client_for, owner):
    dollars = invoice(owner.organisation, "INV-20300", "300.00", currency="USD")
    sign_and_confirm(owner)
    page = text(client_for(owner).get(reverse("portal:invoice_detail", args=[dollars.number])))
    assert "Par virement bancaire" in page and "sera prélevée" not in page
