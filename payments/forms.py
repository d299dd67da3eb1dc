"""The support console's payment forms. They check the shape of the input; the services
(payments.services) check everything else, for the admin as for any caller."""

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from billing_portal.formatting import money
from invoices.models import Invoice

from .models import Mandate, Payment

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class InvoiceChoices(forms.ModelMultipleChoiceField):
    def label_from_instance(self, invoice):
        return _("%(number)s du %(date)s, reste à payer %(due)s") % {
            "number": invoice.number,
            "date": date_format(invoice.issue_date, "SHORT_DATE_FORMAT"),
            "due": money(invoice.amount_due, invoice.currency),
        }


class PaymentForm(forms.Form):
    """A payment support records by hand: a transfer seen on the bank's website, a cheque."""

    amount = forms.DecimalField(label=_("Montant"), max_digits=14, decimal_places=2)
    currency = forms.CharField(label=_("Devise"), max_length=3)
    received_on = forms.DateField(
        label=_("Date du paiement"),
        widget=DATE_INPUT,
        help_text=_(
            "La date où l'argent est arrivé : les factures réglées sont payées à cette date."
        ),
    )
    method = forms.ChoiceField(label=_("Moyen"), choices=Payment.Method.choices)
    payer_name = forms.CharField(label=_("Payeur"), max_length=140, required=False)
    payer_iban = forms.CharField(label=_("IBAN du payeur"), max_length=42, required=False)
    bank_reference = forms.CharField(
        label=_("Référence bancaire ou libellé"), max_length=140, required=False
    )
    invoices = InvoiceChoices(
        label=_("Factures réglées"),
        queryset=Invoice.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Le paiement règle d'abord les factures cochées, puis les plus anciennes factures "
            "ouvertes du compte ; le reste devient le crédit du compte."
        ),
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, data=None, *, organisation, initial=None):
        initial = {
            "currency": organisation.currency,
            "received_on": timezone.localdate(),
            "method": Payment.Method.TRANSFER,
            **(initial or {}),
        }
        super().__init__(data, initial=initial)
        self.fields["invoices"].queryset = Invoice.objects.filter(
            organisation=organisation, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
        ).order_by("due_date", "sequence")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Raison"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("Montant remboursé"), max_digits=14, decimal_places=2)
    currency = forms.CharField(label=_("Devise"), max_length=3)
    refunded_on = forms.DateField(label=_("Date du virement"), widget=DATE_INPUT)
    payee_iban = forms.CharField(label=_("IBAN du bénéficiaire"), max_length=42, required=False)
    reference = forms.CharField(label=_("Référence du virement"), max_length=140, required=False)
    reason = forms.CharField(
        label=_("Raison"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class StatementForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier camt.053 ou camt.054"),
        help_text=_(
            "Le relevé (camt.053) ou les avis de crédit (camt.054) au format XML ISO 20022 "
            "que la banque fournit, versions 001.02 ou 001.08. Importer deux fois le même "
            "fichier, ou des fichiers qui se recouvrent, n'enregistre rien deux fois."
        ),
    )


class CandidateSearchForm(forms.Form):
    q = forms.CharField(label=_("Chercher une facture (numéro ou compte)"), required=False)


class DirectDebitExportForm(forms.Form):
    """The collections of one date and scheme, for the seller's bank."""

    collect_on = forms.DateField(label=_("Date de prélèvement"), widget=DATE_INPUT)
    scheme = forms.ChoiceField(label=_("Schéma"), choices=Mandate.Scheme.choices)
