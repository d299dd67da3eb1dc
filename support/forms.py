from django import forms
from django.utils.translation import gettext_lazy as _

from .models import MESSAGE_MAX_LENGTH, SUBJECT_MAX_LENGTH, SupportRequest


class SupportRequestForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=150)
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        max_length=254,
        error_messages={"invalid": _("Saisissez une adresse e-mail valide.")},
    )
    topic = forms.ChoiceField(label=_("Sujet"), choices=SupportRequest.Topic.choices)
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
