"""The mentions of decree 2022-1299 and the buyer's references in the e-invoices, CII
(Factur-X, read from the stored PDF) and UBL: buyer SIREN (BT-47) and electronic address
(BT-49), purchase order (BT-13), buyer reference (BT-10), delivery address (BG-13/BG-15)
only when it differs, delivery date (BT-72) of the one-off lines, VAT on debits (BT-8)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from lxml import etree

from accounts import services as account_services
from invoices import facturx as invoice_facturx
from invoices import pdf, ubl
from invoices.models import Invoice
from invoices.services import credit_note_issue
from invoices.totals import LineSpec
from tests.factories import BillingContactFactory, MembershipFactory, OrganisationFactory

NS = {**ubl.NS, **invoice_facturx.NS}
AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
BUYER = f"{AGREEMENT}/ram:BuyerTradeParty"
DELIVERY = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery"
SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
UBL_BUYER = "cac:AccountingCustomerParty/cac:Party"

SUBSCRIPTION = LineSpec(
    "Abonnement annuel — forfait Professionnel",
    Decimal(1),
    Decimal("6000.00"),
    date(2026, 3, 1),
    date(2027, 3, 1),
)


def values(root, path):
    return [str(value) for value in root.xpath(path, namespaces=NS)]


def cii(invoice):
    """The CII embedded in the stored PDF: what the buyer receives."""
    return etree.fromstring(pdf.invoice_facturx_xml(pdf.invoice_pdf_ensure(invoice_id=invoice.pk)))


def ubl_of(invoice):
    return etree.fromstring(ubl.invoice_xml(invoice))


def _with_details(organisation):
    organisation = account_services.organisation_update_siren(
        organisation=organisation, siren="732829320", actor=None
    )
    organisation = account_services.organisation_update_references(
        organisation=organisation,
        order_reference="EJ-2026-000123",
        buyer_reference="SERVICE-COMMUNICATION",
        actor=None,
    )
    return account_services.organisation_update_delivery_address(
        organisation=organisation,
        delivery_line1="Institut Lumière",
        delivery_line2="25 rue du Premier-Film",
        delivery_postal_code="69008",
        delivery_city="Lyon",
        delivery_country="FR",
        actor=None,
    )


def test_the_cii_carries_siren_references_delivery_address_and_date(owner, issue):
    invoice = issue(_with_details(owner.organisation))
    root = cii(invoice)
    # BT-47 and BT-49: the SIREN entered, its electronic address under the French scheme.
    assert values(root, f"{BUYER}/ram:SpecifiedLegalOrganization/ram:ID/text()") == ["732829320"]
    assert values(root, f"{BUYER}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == ["0002"]
    assert values(root, f"{BUYER}/ram:URIUniversalCommunication/ram:URIID/text()") == ["732829320"]
    assert values(root, f"{BUYER}/ram:URIUniversalCommunication/ram:URIID/@schemeID") == ["0225"]
    # BT-10 and BT-13.
    assert values(root, f"{AGREEMENT}/ram:BuyerReference/text()") == ["SERVICE-COMMUNICATION"]
    assert values(
        root, f"{AGREEMENT}/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()"
    ) == ["EJ-2026-000123"]
    # BG-13: the buyer at the delivery address.
    ship_to = f"{DELIVERY}/ram:ShipToTradeParty"
    assert values(root, f"{ship_to}/ram:Name/text()") == [invoice.buyer_legal_name]
    address = f"{ship_to}/ram:PostalTradeAddress"
    assert values(root, f"{address}/ram:LineOne/text()") == ["Institut Lumière"]
    assert values(root, f"{address}/ram:LineTwo/text()") == ["25 rue du Premier-Film"]
    assert values(root, f"{address}/ram:PostcodeCode/text()") == ["69008"]
    assert values(root, f"{address}/ram:CityName/text()") == ["Lyon"]
    assert values(root, f"{address}/ram:CountryID/text()") == ["FR"]
    # BT-72: the one-off line's day, the issue date when none was given.
    event = f"{DELIVERY}/ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime"
    assert values(root, f"{event}/udt:DateTimeString/text()") == [
        invoice.issue_date.strftime("%Y%m%d")
    ]
    assert values(root, f"{event}/udt:DateTimeString/@format") == ["102"]


def test_the_ubl_carries_the_same(owner, issue):
    invoice = issue(_with_details(owner.organisation))
    root = ubl_of(invoice)
    assert values(root, f"{UBL_BUYER}/cac:PartyLegalEntity/cbc:CompanyID/text()") == ["732829320"]
    assert values(root, f"{UBL_BUYER}/cac:PartyLegalEntity/cbc:CompanyID/@schemeID") == ["0002"]
    assert values(root, f"{UBL_BUYER}/cbc:EndpointID/text()") == ["732829320"]
    assert values(root, f"{UBL_BUYER}/cbc:EndpointID/@schemeID") == ["0225"]
    assert values(root, "cbc:BuyerReference/text()") == ["SERVICE-COMMUNICATION"]
    assert values(root, "cac:OrderReference/cbc:ID/text()") == ["EJ-2026-000123"]
    assert values(root, "cac:Delivery/cbc:ActualDeliveryDate/text()") == [
        invoice.issue_date.isoformat()
    ]
    address = "cac:Delivery/cac:DeliveryLocation/cac:Address"
    assert values(root, f"{address}/cbc:StreetName/text()") == ["Institut Lumière"]
    assert values(root, f"{address}/cbc:AdditionalStreetName/text()") == ["25 rue du Premier-Film"]
    assert values(root, f"{address}/cbc:PostalZone/text()") == ["69008"]
    assert values(root, f"{address}/cac:Country/cbc:IdentificationCode/text()") == ["FR"]
    assert values(root, "cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name/text()") == [
        invoice.buyer_legal_name
    ]


def test_a_credit_note_carries_its_invoices_references_and_delivery(owner, issue):
    invoice = issue(_with_details(owner.organisation))
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    root = cii(credit_note)
    assert values(root, f"{AGREEMENT}/ram:BuyerReference/text()") == ["SERVICE-COMMUNICATION"]
    assert values(root, f"{DELIVERY}/ram:ShipToTradeParty/ram:Name/text()")
    root = ubl_of(credit_note)
    assert values(root, "cac:OrderReference/cbc:ID/text()") == ["EJ-2026-000123"]


def test_without_them_the_xml_has_none(owner, issue):
    invoice = issue(owner.organisation, lines=[SUBSCRIPTION])
    root = cii(invoice)
    assert not root.xpath(f"{AGREEMENT}/ram:BuyerReference", namespaces=NS)
    assert not root.xpath(f"{AGREEMENT}/ram:BuyerOrderReferencedDocument", namespaces=NS)
    # Every line has its period, no delivery address: the delivery element stays empty.
    assert len(root.xpath(f"{DELIVERY}/*", namespaces=NS)) == 0
    root = ubl_of(invoice)
    for path in ("cbc:BuyerReference", "cac:OrderReference", "cac:Delivery"):
        assert not root.xpath(path, namespaces=NS), path


def test_a_delivery_address_that_is_the_billing_address_is_not_sent(owner, issue):
    account_services.organisation_update_delivery_address(
        organisation=owner.organisation,
        delivery_line1="14 quai Saint-Antoine",
        delivery_postal_code="69002",
        delivery_city="LYON",
        delivery_country="FR",
        actor=None,
    )
    invoice = issue(owner.organisation, lines=[SUBSCRIPTION])
    assert not cii(invoice).xpath(f"{DELIVERY}/ram:ShipToTradeParty", namespaces=NS)
    assert not ubl_of(invoice).xpath("cac:Delivery", namespaces=NS)


def test_the_service_date_given_is_the_delivery_date(owner, issue):
    rendered = timezone.localdate() - timedelta(days=20)
    invoice = issue(
        owner.organisation,
        lines=[SUBSCRIPTION, LineSpec("Formation des administrateurs", Decimal(1), Decimal(650))],
        service_date=rendered,
    )
    event = f"{DELIVERY}/ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime"
    assert values(cii(invoice), f"{event}/udt:DateTimeString/text()") == [
        rendered.strftime("%Y%m%d")
    ]
    assert values(ubl_of(invoice), "cac:Delivery/cbc:ActualDeliveryDate/text()") == [
        rendered.isoformat()
    ]


def test_a_foreign_buyer_with_a_siren_is_addressed_by_it(db, issue):
    """Registered in France (a French branch): in the French directory by its SIREN."""
    organisation = OrganisationFactory(
        country="DE", vat_number="DE136695976", postal_code="10785", city="Berlin"
    )
    organisation = account_services.organisation_update_siren(
        organisation=organisation, siren="552100554", actor=None
    )
    root = cii(issue(organisation))
    assert values(root, f"{BUYER}/ram:URIUniversalCommunication/ram:URIID/text()") == ["552100554"]
    assert values(root, f"{BUYER}/ram:URIUniversalCommunication/ram:URIID/@schemeID") == ["0225"]
    assert values(root, f"{BUYER}/ram:SpecifiedTaxRegistration/ram:ID/text()") == ["DE136695976"]


@pytest.mark.parametrize(
    ("opted", "cii_code", "ubl_code"),
    # EN 16931 BT-8: CII uses UNTDID 2475 (5 invoice date, 72 paid to date), UBL UNTDID 2005
    # (3 invoice date, 432 paid to date).
    [(False, "72", "432"), (True, "5", "3")],
)
def test_vat_on_debits_sets_the_vat_point_date_code(
    settings, owner, issue, opted, cii_code, ubl_code
):
    settings.SELLER = {**settings.SELLER, "vat_on_debits": opted}
    invoice = issue(owner.organisation)
    assert values(
        cii(invoice), f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:DueDateTypeCode/text()"
    ) == [cii_code]
    assert values(ubl_of(invoice), "cac:InvoicePeriod/cbc:DescriptionCode/text()") == [ubl_code]


def test_the_reverse_charge_reason_keeps_the_french_word_in_english(swedish_owner, issue):
    invoice = issue(swedish_owner.organisation)
    reason = f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:ExemptionReason/text()"
    assert values(cii(invoice), reason) == ["Autoliquidation (reverse charge)"]
    assert values(
        ubl_of(invoice),
        "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReason/text()",
    ) == ["Autoliquidation (reverse charge)"]


def test_an_owner_of_a_new_account_gets_it_all_from_the_tab(client_for, issue, db):
    """From the forms to the XML: what the owner types is what the buyer's software reads."""
    owner = MembershipFactory(organisation=OrganisationFactory(vat_number=""), role="owner")
    client = client_for(owner)
    client.post("/billing/invoices/siren/", {"siren": "552 100 554"})
    client.post(
        "/billing/invoices/references/",
        {"order_reference": "EJ-77", "buyer_reference": "CS-12"},
    )
    owner.organisation.refresh_from_db()
    root = cii(issue(owner.organisation))
    assert values(root, f"{BUYER}/ram:SpecifiedLegalOrganization/ram:ID/text()") == ["552100554"]
    assert values(root, f"{AGREEMENT}/ram:BuyerReference/text()") == ["CS-12"]


# --- BT-49 of a buyer that neither a SIREN nor a VAT number identifies ------------------------


def _endpoint(invoice):
    """(address, scheme) of BT-49 in the CII from the stored PDF and in the UBL, which agree."""
    root = cii(invoice)
    found = (
        values(root, f"{BUYER}/ram:URIUniversalCommunication/ram:URIID/text()"),
        values(root, f"{BUYER}/ram:URIUniversalCommunication/ram:URIID/@schemeID"),
    )
    root = ubl_of(invoice)
    assert found == (
        values(root, f"{UBL_BUYER}/cbc:EndpointID/text()"),
        values(root, f"{UBL_BUYER}/cbc:EndpointID/@schemeID"),
    )
    return found


def test_a_buyer_without_siren_nor_vat_number_is_addressed_by_its_billing_email(db, issue):
    owner = MembershipFactory(
        organisation=OrganisationFactory(name="Association Cinéma Solidaire", vat_number=""),
        role="owner",
        user__email="tresorerie@cinema-solidaire.example",
    )
    invoice = issue(owner.organisation)
    assert invoice.buyer_email == "tresorerie@cinema-solidaire.example"
    assert _endpoint(invoice) == (["tresorerie@cinema-solidaire.example"], ["EM"])

    # A snapshot: the owner's new address changes the next invoice, not this one.
    owner.user.email = "compta@cinema-solidaire.example"
    owner.user.save()
    assert _endpoint(Invoice.objects.get(pk=invoice.pk))[0] == [
        "tresorerie@cinema-solidaire.example"
    ]
    assert issue(owner.organisation).buyer_email == "compta@cinema-solidaire.example"
    # The credit note repeats its invoice's, as every buyer field.
    credit_note = credit_note_issue(invoice=invoice, actor=None, reason="Doublon")
    assert _endpoint(credit_note) == (["tresorerie@cinema-solidaire.example"], ["EM"])


@pytest.mark.parametrize(
    "fields",
    [
        # An EU customer without VAT number (taxed like a French one), and one outside the EU.
        {"country": "DE", "postal_code": "10785", "city": "Berlin", "vat_number": ""},
        {"country": "US", "postal_code": "84060", "city": "Park City", "vat_number": ""},
    ],
    ids=["de", "us"],
)
def test_a_foreign_buyer_without_tax_number_is_addressed_by_its_email(db, issue, fields):
    owner = MembershipFactory(
        organisation=OrganisationFactory(**fields), role="owner", user__email="ap@buyer.example"
    )
    assert _endpoint(issue(owner.organisation)) == (["ap@buyer.example"], ["EM"])


def test_without_owner_the_first_billing_contact_is_the_address(db, issue):
    organisation = OrganisationFactory(vat_number="")
    BillingContactFactory(organisation=organisation, email="factures@asso.example")
    assert _endpoint(issue(organisation)) == (["factures@asso.example"], ["EM"])


def test_a_buyer_with_a_vat_number_or_a_siren_keeps_no_email(owner, swedish_owner, issue):
    for organisation, address in [
        (owner.organisation, "732829320"),  # the SIREN inside the French VAT number
        (swedish_owner.organisation, "5566778899"),  # the organisationsnummer
    ]:
        invoice = issue(organisation)
        assert invoice.buyer_email == ""
        assert _endpoint(invoice)[0] == [address]


def test_nobody_to_write_to_or_an_address_too_long_gives_no_bt_49(db, issue):
    """BR-FR-25 caps an electronic address at 125 characters; such a buyer (and one with
    neither owner nor billing contact) has no BT-49, which BR-FR-12 then reports."""
    assert _endpoint(issue(OrganisationFactory(vat_number=""))) == ([], [])
    long_address = f"{'x' * 120}@asso.example"
    owner = MembershipFactory(
        organisation=OrganisationFactory(vat_number=""), role="owner", user__email=long_address
    )
    invoice = issue(owner.organisation)
    assert invoice.buyer_email == long_address
    assert _endpoint(invoice) == ([], [])
