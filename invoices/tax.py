"""Which VAT applies to an invoice: one pure function, used to issue and to estimate.

French rules for a seller established in France selling services to businesses
(place of supply: the customer's country, art. 259-1 du CGI / art. 44 directive 2006/112/CE):

| customer                                 | VAT              | mention on the invoice      |
|------------------------------------------|------------------|-----------------------------|
| seller's country (Monaco counts as FR)   | seller's rate    | —                           |
| other EU country, valid VAT number       | 0 %              | « Autoliquidation » + refs  |
| other EU country, no (valid) VAT number  | seller's rate    | —                           |
| outside the EU                           | 0 %              | « TVA non applicable, art.  |
|                                          |                  |   259-1 du CGI »            |
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.vat import is_eu, is_valid_eu_vat_number, vat_territory

ZERO_RATE = Decimal("0.00")


class Treatment(models.TextChoices):
    DOMESTIC = "domestic", _("TVA du pays du vendeur")
    EU_REVERSE_CHARGE = "eu_reverse_charge", _("Autoliquidation (client UE assujetti)")
    EU_NO_VAT_NUMBER = "eu_no_vat_number", _("Client UE sans numéro de TVA")
    OUTSIDE_EU = "outside_eu", _("Client hors UE")


@dataclass(frozen=True)
class TaxRule:
    treatment: str
    vat_rate: Decimal
    buyer_vat_number: str = ""

    @property
    def mention(self) -> str:
        """The legal mention to print, in the active language ('' when none is due)."""
        if self.treatment == Treatment.EU_REVERSE_CHARGE:
            return gettext(
                "Autoliquidation : TVA due par le preneur (article 283-2 du CGI, article 196 "
                "de la directive 2006/112/CE). N° TVA du client : %(vat)s"
            ) % {"vat": self.buyer_vat_number}
        if self.treatment == Treatment.OUTSIDE_EU:
            return gettext("TVA non applicable, art. 259-1 du CGI")
        return ""


def tax_rule(
    *, seller_country: str, seller_vat_rate: Decimal, buyer_country: str, buyer_vat_number: str
) -> TaxRule:
    """The VAT treatment of services sold by the seller to a business customer."""
    rate = Decimal(seller_vat_rate).quantize(Decimal("0.01"))
    if vat_territory(buyer_country) == vat_territory(seller_country):
        return TaxRule(Treatment.DOMESTIC, rate)
    if not is_eu(buyer_country):
        return TaxRule(Treatment.OUTSIDE_EU, ZERO_RATE)
    if is_valid_eu_vat_number(buyer_vat_number, buyer_country):
        return TaxRule(Treatment.EU_REVERSE_CHARGE, ZERO_RATE, buyer_vat_number)
    # An EU business that gave no valid number is taxed like a French customer.
    return TaxRule(Treatment.EU_NO_VAT_NUMBER, rate)
