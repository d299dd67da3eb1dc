from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Plan


class UpgradeForm(forms.Form):
    """The « Mettre à niveau » drop-down: plans by code, the current one marked."""

    plan = forms.ModelChoiceField(
        label=_("Forfait souhaité"),
        queryset=Plan.objects.none(),
        to_field_name="code",
        empty_label=None,
        error_messages={"invalid_choice": _("Choisissez un forfait de la liste.")},
    )

    def __init__(self, *args, plans, current=None, proposed=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["plan"]
        field.queryset = Plan.objects.filter(pk__in=[p.pk for p in plans]).order_by("rank")

        def label(plan):
            if current is not None and plan.pk == current.pk:
                return _("%(plan)s (forfait actuel)") % {"plan": plan.name}
            return plan.name

        field.label_from_instance = label
        if not self.is_bound and proposed is not None:
            self.initial.setdefault("plan", proposed.code)


class MandateForm(forms.Form):
    """The SEPA mandate form of the « Prélèvement SEPA » page. It checks the shape of the
    input; payments.services.mandates.MandateDetails checks the IBAN, BIC and the rest."""

    scheme = forms.ChoiceField(
        label=_("Schéma"),
        choices=[
            ("CORE", _("SEPA Core (avec droit à remboursement)")),
            ("B2B", _("SEPA B2B, interentreprises (sans droit à remboursement)")),
        ],
        initial="CORE",
        widget=forms.RadioSelect,
    )
    holder_name = forms.CharField(label=_("Titulaire du compte"), max_length=70)
    holder_address = forms.CharField(
        label=_("Adresse du titulaire"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    iban = forms.CharField(label=_("IBAN"), max_length=50)
    bic = forms.CharField(
        label=_("BIC (facultatif)"),
        max_length=20,
        required=False,
        help_text=_("Votre banque le retrouve à partir de l'IBAN ; indiquez-le si vous l'avez."),
    )
    signed_place = forms.CharField(label=_("Fait à"), max_length=70)
    accept = forms.BooleanField(
        label=_("J'ai lu le texte du mandat et j'autorise les prélèvements."),
        error_messages={"required": _("Cochez la case pour signer le mandat.")},
    )
