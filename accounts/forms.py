from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import gettext_lazy as _

from emails.services import email_queue_message, sender

from .models import NAME_MAX_LENGTH


class ContactForm(forms.Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=NAME_MAX_LENGTH)
    last_name = forms.CharField(label=_("Nom"), max_length=NAME_MAX_LENGTH)
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        max_length=254,
        error_messages={"invalid": _("Saisissez une adresse e-mail valide.")},
    )


class OwnerForm(forms.Form):
    new_owner = forms.CharField(label=_("Nouveau propriétaire du compte"))


class OutboxPasswordResetForm(PasswordResetForm):
    """Password reset emails go through the outbox like every other email."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        from django.conf import settings
        from django.template.loader import render_to_string

        # The link's base is SITE_URL, like every emailed link: never the Host header of
        # the request that asked for it, which anyone can set.
        context = {**context, "site_url": settings.SITE_URL}
        email_queue_message(
            to=[to_email],
            kind="password_reset",
            redact_after_send=True,
            subject=render_to_string(subject_template_name, context),
            body_text=render_to_string(email_template_name, context),
            from_email=sender(),  # in the language of the page that asked for it
        )


class OrganisationAddressForm(forms.Form):
    """The account's postal address; the service re-checks everything it saves."""

    address_line1 = forms.CharField(label=_("Adresse"), max_length=200)
    address_line2 = forms.CharField(label=_("Complément d'adresse"), max_length=200, required=False)
    postal_code = forms.CharField(label=_("Code postal"), max_length=20, required=False)
    city = forms.CharField(label=_("Ville"), max_length=100)
    country = forms.ChoiceField(label=_("Pays"))

    def __init__(self, *args, **kwargs):
        from .countries import country_choices

        super().__init__(*args, **kwargs)
        # Built per request: the names follow the active language.
        self.fields["country"].choices = country_choices()
        self.fields["address_line1"].widget.attrs["autocomplete"] = "address-line1"
        self.fields["address_line2"].widget.attrs["autocomplete"] = "address-line2"
        self.fields["postal_code"].widget.attrs["autocomplete"] = "postal-code"
        self.fields["city"].widget.attrs["autocomplete"] = "address-level2"
        self.fields["country"].widget.attrs["autocomplete"] = "country"


class OrganisationVatForm(forms.Form):
    # Longer than the stored 20 characters: spaces and dots typed by the user are removed.
    vat_number = forms.CharField(label=_("Numéro de TVA"), max_length=40, required=False)
