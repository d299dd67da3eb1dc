from django import forms
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import gettext_lazy as _

from emails.services import email_queue_message

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
        from django.template.loader import render_to_string

        email_queue_message(
            to=[to_email],
            kind="password_reset",
            subject=render_to_string(subject_template_name, context),
            body_text=render_to_string(email_template_name, context),
        )
