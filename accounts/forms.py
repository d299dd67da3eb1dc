from contextlib import contextmanager
from datetime import timedelta

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from emails.layout import layout_context, render_html, render_text
from emails.services import email_queue_message, sender

from .addresses import country_choices
from .models import BUYER_REFERENCE_MAX_LENGTH, NAME_MAX_LENGTH, ORDER_REFERENCE_MAX_LENGTH
from .permissions import client_ip
from .ratelimit import Limit, address_bucket, ratelimit_hit
from .services.two_factor import TwoFactorProof, two_factor_verify

# Reset emails: at most 3 an hour to one address, at most 20 requests an hour from one
# client address (whether or not an account has the addresses it asks for).
PASSWORD_RESET_PER_ACCOUNT = Limit("password_reset.account", 3, timedelta(hours=1))
PASSWORD_RESET_PER_IP = Limit("password_reset.ip", 20, timedelta(hours=1))
# Turning two-step sign-in off with the password: 5 tries per quarter of an hour per user,
# so that a session left open does not let anyone guess the password there.
TWO_FACTOR_PASSWORD_TRIES = Limit("two_factor.password", 5, timedelta(minutes=15))


@contextmanager
def service_errors(form: forms.Form):
    """Around the service call of a posted form: a ValidationError the service raises shows
    above the form and ends the block, so the view goes on to render the form again."""
    try:
        yield
    except ValidationError as exc:
        form.add_error(None, exc)


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


class SignInForm(AuthenticationForm):
    """Django's sign-in form with our wording: its French message (« Saisissez un adresse
    e-mail… sensible à la casse ») gets the gender wrong and calls the email address case
    sensitive, which it is not (sign-in ignores its case)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Adresse e-mail ou mot de passe incorrect. Vérifiez le mot de passe : "
            "les majuscules et les minuscules y comptent."
        ),
    }


class OutboxPasswordResetForm(PasswordResetForm):
    """Password reset emails go through the outbox like every other email, within limits.

    Past a limit no email is queued, and the page answers as always (the « email sent »
    redirect), just as it does for an address without an account: it tells nobody whether
    an account exists or a limit was reached.
    """

    def save(self, *args, request=None, **kwargs):
        ip = client_ip(request) if request is not None else None
        if ip and not ratelimit_hit(limit=PASSWORD_RESET_PER_IP, value=address_bucket(ip)):
            return
        # One account whatever the case typed (sign-in and get_users() ignore it too).
        email = self.cleaned_data["email"].strip().lower()
        if not ratelimit_hit(limit=PASSWORD_RESET_PER_ACCOUNT, value=email):
            return
        super().save(*args, request=request, **kwargs)

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

        # The link's base is SITE_URL, like every emailed link (the layout sets site_url):
        # never the Host header of the request that asked for it, which anyone can set.
        email_queue_message(
            to=[to_email],
            kind="password_reset",
            redact_after_send=True,
            subject=render_to_string(subject_template_name, layout_context(context)),
            body_text=render_text(email_template_name, context),
            body_html=render_html("emails/password_reset.html", context),
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


class OrganisationSirenForm(forms.Form):
    # Longer than the 9 digits: spaces and dots typed by the user are removed.
    siren = forms.CharField(label=_("SIREN"), max_length=20, required=False)


class OrganisationDeliveryAddressForm(forms.Form):
    """Where the services are delivered, if not at the billing address: all lines empty
    removes it. The service checks it like the billing address."""

    delivery_line1 = forms.CharField(label=_("Adresse"), max_length=200, required=False)
    delivery_line2 = forms.CharField(
        label=_("Complément d'adresse"), max_length=200, required=False
    )
    delivery_postal_code = forms.CharField(label=_("Code postal"), max_length=20, required=False)
    delivery_city = forms.CharField(label=_("Ville"), max_length=100, required=False)
    delivery_country = forms.ChoiceField(label=_("Pays"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delivery_country"].choices = country_choices()
        for name, token in (
            ("delivery_line1", "address-line1"),
            ("delivery_line2", "address-line2"),
            ("delivery_postal_code", "postal-code"),
            ("delivery_city", "address-level2"),
            ("delivery_country", "country"),
        ):
            self.fields[name].widget.attrs["autocomplete"] = f"shipping {token}"


class OrganisationReferencesForm(forms.Form):
    """The buyer's references copied onto its next invoices (EN 16931 BT-13 and BT-10)."""

    order_reference = forms.CharField(
        label=_("Numéro de bon de commande"),
        max_length=ORDER_REFERENCE_MAX_LENGTH,
        required=False,
        help_text=_(
            "Entité publique recevant ses factures par Chorus Pro : votre numéro d'engagement."
        ),
    )
    buyer_reference = forms.CharField(
        label=_("Référence acheteur"),
        max_length=BUYER_REFERENCE_MAX_LENGTH,
        required=False,
        help_text=_("Entité publique recevant ses factures par Chorus Pro : votre code service."),
    )


def _code_field(*, label, required: bool = True, numeric: bool = True, help_text=""):
    attrs = {
        "autocomplete": "one-time-code",
        "autocapitalize": "off",
        "spellcheck": "false",
        "size": "12",
    }
    if numeric:
        # The phone's number pad; « 123 456 » pasted from an app still reads (spaces go).
        attrs |= {"inputmode": "numeric", "pattern": "[0-9 ]*"}
    return forms.CharField(
        label=label,
        max_length=32,
        required=required,
        strip=True,
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs),
        error_messages={"required": _("Saisissez le code.")},
    )


class TwoFactorCodeMixin:
    """A form field `code` checked against `two_factor_user`'s second factor, by the one
    check there is (accounts.services.two_factor_verify): the sign-in's second step, the
    pages that change the second factor, the confirmation of an upgrade or a closure.

    Checked in `clean_code`, outside any transaction, so a wrong code counts. `proof` is
    then what the services that need it take (`two_factor_require`)."""

    two_factor_user = None
    proof: TwoFactorProof | None = None

    def clean_code(self):
        code = self.cleaned_data.get("code", "")
        if not code:
            return code
        try:
            self.proof = two_factor_verify(user=self.two_factor_user, code=code)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["code"]) from None
        return code


class TwoFactorCodeForm(TwoFactorCodeMixin, forms.Form):
    """A code from the app (or, with `recovery`, a recovery code) of `user`."""

    def __init__(self, *args, user, recovery: bool = False, label=None, help_text="", **kwargs):
        super().__init__(*args, **kwargs)
        self.two_factor_user = user
        if recovery:
            self.fields["code"] = _code_field(
                label=label or _("Code de secours"),
                numeric=False,
                help_text=help_text or _("Un des codes de secours notés à l'activation."),
            )
        else:
            self.fields["code"] = _code_field(
                label=label or _("Code de vérification"),
                help_text=help_text
                or _("Le code à 6 chiffres affiché par votre application d'authentification."),
            )


class TwoFactorEnableForm(forms.Form):
    """The first code of the app, which the service checks against the new secret."""

    code = _code_field(
        label=_("Code de vérification"),
        help_text=_("Le code à 6 chiffres que l'application affiche pour ce compte."),
    )


class TwoFactorDisableForm(TwoFactorCodeMixin, forms.Form):
    """Turning it off: the password, or a code (from the app or a recovery code)."""

    password = forms.CharField(
        label=_("Mot de passe"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = _code_field(
        label=_("ou un code de vérification"),
        required=False,
        numeric=False,
        help_text=_("Le code à 6 chiffres de votre application, ou un code de secours."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.two_factor_user = user

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        password, code = cleaned.get("password"), cleaned.get("code")
        if not password and not code:
            raise ValidationError(_("Saisissez votre mot de passe ou un code de vérification."))
        if password and not code:
            # Counted here, outside the service's transaction: a refusal counts too.
            if not ratelimit_hit(
                limit=TWO_FACTOR_PASSWORD_TRIES, value=str(self.two_factor_user.pk)
            ):
                raise ValidationError(
                    _("Trop d'essais. Réessayez dans un quart d'heure, ou utilisez un code."),
                    code="throttled",
                )
        return cleaned
