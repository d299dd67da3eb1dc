from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership
from subscriptions.models import Plan

from .models import MESSAGE_MAX_LENGTH, SUBJECT_MAX_LENGTH, SupportRequest


class SupportRequestForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=150)
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        max_length=254,
        error_messages={"invalid": _("Saisissez une adresse e-mail valide.")},
    )
    # « Sujet » beside « Objet » read as the same question twice: the topic is what the
    # request is about, the subject its own words.
    topic = forms.ChoiceField(
        label=_("Votre demande concerne"), choices=SupportRequest.Topic.choices
    )
    subject = forms.CharField(label=_("Objet"), max_length=SUBJECT_MAX_LENGTH)
    message = forms.CharField(
        label=_("Message"), max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 6})
    )

    def __init__(self, *args, signed_in: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if signed_in:
            # A signed-in user's identity is attached by the service, not typed.
            del self.fields["name"]
            del self.fields["email"]


# The support console's forms (support.admin.OrganisationAdmin). The address, VAT number and
# billing contact actions use the portal's own forms (accounts.forms): same fields, same
# checks, and the same service behind them.


class SupportOwnerForm(forms.Form):
    """Support's "change the owner" form: only the account's program managers, and a reason."""

    new_owner = forms.ModelChoiceField(
        label=_("Nouveau propriétaire du compte"), queryset=Membership.objects.none()
    )
    reason = forms.CharField(
        label=_("Raison du changement"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Par exemple : demande signée sur papier à en-tête reçue le 12/03."),
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_owner"].queryset = Membership.objects.filter(
            organisation=organisation, role=Membership.Role.MANAGER
        ).select_related("user")


class SupportPlanForm(forms.Form):
    plan = forms.ModelChoiceField(label=_("Forfait"), queryset=Plan.objects.order_by("rank"))
    immediately = forms.BooleanField(
        label=_("Tout de suite (mises à niveau seulement, facturées au prorata)"),
        required=False,
        help_text=_("Sinon le changement prend effet au prochain renouvellement."),
    )
    reason = forms.CharField(
        label=_("Raison du changement"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class SupportReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Raison"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class SupportReplyForm(forms.Form):
    """Support's answer to a request, emailed to its author."""

    message = forms.CharField(
        label=_("Réponse"),
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
    )
