"""The support console: support staff's view of the accounts and the support requests.

support is the top layer: its console reads every app (support.selectors.account_overview)
and acts on an account only through the services of the app that owns the change, as the
support user, from the client's address (OrganisationAdmin._support_form_view). The
standard forms change nothing (accounts.admin.ThroughServicesOnly).
"""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.admin import ThroughServicesOnly
from accounts.forms import (
    ContactForm,
    OrganisationAddressForm,
    OrganisationSirenForm,
    OrganisationVatForm,
)
from accounts.models import BillingContact, Membership, Organisation
from accounts.permissions import client_ip
from subscriptions import services as subscription_services
from subscriptions.models import Confirmation

from . import services
from .forms import SupportOwnerForm, SupportPlanForm, SupportReasonForm, SupportReplyForm
from .models import SupportRequest
from .selectors import account_overview

SUPPORT_FORM = "admin/accounts/organisation/support_form.html"


@admin.register(SupportRequest)
class SupportRequestAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "subject",
        "topic",
        "name",
        "email",
        "organisation",
        "role_label",
        "status",
    ]
    list_filter = ["status", "topic", "role"]
    search_fields = ["subject", "email", "name", "organisation__name", "message"]
    list_select_related = ["organisation"]
    readonly_fields = [
        "organisation",
        "user",
        "role_label",
        "name",
        "email",
        "topic",
        "subject",
        "message",
        "ip_address",
        "status",
        "created_at",
        "closed_at",
    ]
    actions = ["close_requests"]
    change_form_template = "admin/support/supportrequest/change_form.html"

    @admin.display(description=_("rôle"), ordering="role")
    def role_label(self, obj):
        return obj.role_label or "—"

    def get_urls(self):
        reply = self.admin_site.admin_view(self.reply_view)
        return [
            path("<int:pk>/reply/", reply, name="support_supportrequest_reply"),
            *super().get_urls(),
        ]

    def reply_view(self, request, pk):
        """Answer the request's author by email, from the request's page (the service does
        the sending, the record and the audit event)."""
        support_request = get_object_or_404(SupportRequest, pk=pk)
        if not self.has_change_permission(request, support_request):
            raise PermissionDenied
        form = SupportReplyForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                services.support_request_reply(
                    support_request=support_request,
                    message=form.cleaned_data["message"],
                    actor=request.user,
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                _show_errors(form, exc)
            else:
                messages.success(
                    request, _("Réponse envoyée à %(email)s.") % {"email": support_request.email}
                )
                return redirect(reverse("admin:support_supportrequest_change", args=[pk]))
        page = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": support_request,
            "title": _("Répondre à %(name)s") % {"name": support_request.name},
            "form": form,
        }
        return TemplateResponse(request, "admin/support/supportrequest/reply.html", page)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["replies"] = obj.replies.select_related("author")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Marquer comme fermées"), permissions=["change"])
    def close_requests(self, request, queryset):
        for support_request in queryset:
            services.support_request_close(support_request=support_request)
        messages.success(request, _("Demandes fermées."))


def _show_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's errors on the form: by field where the form has it, above it otherwise."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@admin.register(Organisation)
class OrganisationAdmin(ThroughServicesOnly, admin.ModelAdmin):
    """The account page support works from, and its support actions."""

    list_display = ["name", "owner_email", "country", "vat_number", "currency", "status"]
    list_filter = ["status", "country", "currency", "language"]
    search_fields = [
        "name",
        "vat_number",
        "memberships__user__email",
        "memberships__user__last_name",
        "billing_contacts__email",
        "=invoices__number",
    ]
    readonly_fields = ["status", "closed_at", "created_at"]
    change_form_template = "admin/accounts/organisation/change_form.html"

    def get_urls(self):
        # The names keep the model's prefix (admin:accounts_organisation_…), like its pages.
        def view(pattern, method, name):
            return path(pattern, self.admin_site.admin_view(method), name=name)

        return [
            view(
                "<int:pk>/change-owner/",
                self.change_owner_view,
                "accounts_organisation_change_owner",
            ),
            view(
                "<int:pk>/change-plan/", self.change_plan_view, "accounts_organisation_change_plan"
            ),
            view("<int:pk>/reopen/", self.reopen_view, "accounts_organisation_reopen"),
            view(
                "<int:pk>/confirmations/<int:confirmation_pk>/resend/",
                self.resend_confirmation_view,
                "accounts_organisation_resend_confirmation",
            ),
            view(
                "<int:pk>/address/",
                self.change_address_view,
                "accounts_organisation_change_address",
            ),
            view("<int:pk>/vat-number/", self.change_vat_view, "accounts_organisation_change_vat"),
            view("<int:pk>/siren/", self.change_siren_view, "accounts_organisation_change_siren"),
            view(
                "<int:pk>/contacts/add/", self.add_contact_view, "accounts_organisation_add_contact"
            ),
            view(
                "<int:pk>/members/<int:membership_pk>/two-factor-reset/",
                self.two_factor_reset_view,
                "accounts_organisation_two_factor_reset",
            ),
            view(
                "<int:pk>/contacts/<int:contact_pk>/remove/",
                self.remove_contact_view,
                "accounts_organisation_remove_contact",
            ),
            *super().get_urls(),
        ]

    def _account_for_support(self, request, pk) -> Organisation:
        """The account, if the signed-in staff member may act on it (the Support group)."""
        organisation = get_object_or_404(Organisation, pk=pk)
        if not self.has_change_permission(request, organisation):
            raise PermissionDenied
        return organisation

    def _support_form_view(
        self,
        request,
        pk,
        *,
        title: str,
        form: Callable[..., forms.Form],
        action: Callable[..., object],
        success: str,
        template: str = SUPPORT_FORM,
        context: Callable[[Organisation], dict] | None = None,
    ):
        """Every support action on one account: the form (GET); on a valid POST, `action`
        calls the service as the support user from the client's address, then a message
        and back to the account page. A ValidationError from the service shows on the form,
        and the service changed nothing.

        `form(data, organisation)` builds the form, `action(organisation, cleaned_data, *,
        actor, ip)` calls the service, `context(organisation)` adds to the page.
        """
        organisation = self._account_for_support(request, pk)
        bound = form(request.POST if request.method == "POST" else None, organisation)
        if request.method == "POST" and bound.is_valid():
            try:
                action(organisation, bound.cleaned_data, actor=request.user, ip=client_ip(request))
            except ValidationError as exc:
                _show_errors(bound, exc)
            else:
                messages.success(request, success)
                return redirect(reverse("admin:accounts_organisation_change", args=[pk]))
        page = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": organisation,
            "title": title,
            "form": bound,
            **(context(organisation) if context else {}),
        }
        return TemplateResponse(request, template, page)

    def change_owner_view(self, request, pk):
        """The seed's "contact support to take over" path: same service as the portal."""

        def action(organisation, data, **who):
            account_services.ownership_transfer(
                organisation=organisation,
                new_owner_membership_id=data["new_owner"].pk,
                by_support=True,
                reason=data["reason"],
                **who,
            )

        def current_owner(organisation):
            owner = (
                organisation.memberships.filter(role=Membership.Role.OWNER)
                .select_related("user")
                .first()
            )
            return {"current_owner": owner}

        return self._support_form_view(
            request,
            pk,
            title=_("Changer le propriétaire du compte"),
            form=lambda data, organisation: SupportOwnerForm(data, organisation=organisation),
            action=action,
            success=_("Le propriétaire du compte a été modifié."),
            template="admin/accounts/organisation/change_owner.html",
            context=current_owner,
        )

    def change_plan_view(self, request, pk):
        def action(organisation, data, **who):
            subscription_services.plan_change_by_support(
                organisation=organisation,
                plan=data["plan"],
                immediately=data["immediately"],
                reason=data["reason"],
                **who,
            )

        return self._support_form_view(
            request,
            pk,
            title=_("Changer le forfait"),
            form=lambda data, organisation: SupportPlanForm(data),
            action=action,
            success=_("Le forfait a été modifié."),
        )

    def reopen_view(self, request, pk):
        def action(organisation, data, **who):
            subscription_services.account_reopen(
                organisation=organisation, reason=data["reason"], **who
            )

        return self._support_form_view(
            request,
            pk,
            title=_("Rouvrir le compte"),
            form=lambda data, organisation: SupportReasonForm(data),
            action=action,
            success=_("Le compte a été rouvert."),
        )

    def change_address_view(self, request, pk):
        """Correct the billing address: the portal's form and service (the next invoices
        print it; issued ones keep theirs)."""

        def form(data, organisation):
            fields = OrganisationAddressForm.base_fields
            initial = {name: getattr(organisation, name) for name in fields}
            return OrganisationAddressForm(data, initial=initial)

        def action(organisation, data, **who):
            account_services.organisation_update_address(
                organisation=organisation, by_support=True, **data, **who
            )

        return self._support_form_view(
            request,
            pk,
            title=_("Modifier l'adresse"),
            form=form,
            action=action,
            success=_("L'adresse a été enregistrée."),
            context=_without_reason,
        )

    def change_vat_view(self, request, pk):
        def action(organisation, data, **who):
            account_services.organisation_update_vat(
                organisation=organisation,
                vat_number=data["vat_number"],
                by_support=True,
                **who,
            )

        return self._support_form_view(
            request,
            pk,
            title=_("Modifier le numéro de TVA"),
            form=lambda data, organisation: OrganisationVatForm(
                data, initial={"vat_number": organisation.vat_number}
            ),
            action=action,
            success=_("Le numéro de TVA a été enregistré."),
            context=_without_reason,
        )

    def change_siren_view(self, request, pk):
        def action(organisation, data, **who):
            account_services.organisation_update_siren(
                organisation=organisation, siren=data["siren"], by_support=True, **who
            )

        return self._support_form_view(
            request,
            pk,
            title=_("Modifier le SIREN"),
            form=lambda data, organisation: OrganisationSirenForm(
                data, initial={"siren": organisation.invoice_siren}
            ),
            action=action,
            success=_("Le SIREN a été enregistré."),
            context=_without_reason,
        )

    def add_contact_view(self, request, pk):
        def action(organisation, data, **who):
            account_services.contact_add(organisation=organisation, by_support=True, **data, **who)

        return self._support_form_view(
            request,
            pk,
            title=_("Ajouter un contact"),
            form=lambda data, organisation: ContactForm(data),
            action=action,
            success=_("Le contact a été ajouté."),
            context=_without_reason,
        )

    def remove_contact_view(self, request, pk, contact_pk):
        contact = get_object_or_404(BillingContact, organisation_id=pk, pk=contact_pk)

        def action(organisation, data, **who):
            account_services.contact_remove(contact=contact, by_support=True, **who)

        return self._support_form_view(
            request,
            pk,
            title=_("Supprimer %(name)s") % {"name": contact.full_name},
            form=lambda data, organisation: forms.Form(data),
            action=action,
            success=_("Le contact a été supprimé."),
            context=lambda organisation: {
                **_without_reason(organisation),
                "question": _("Supprimer le contact %(name)s ?") % {"name": contact.full_name},
                "submit_label": _("Supprimer"),
            },
        )

    def two_factor_reset_view(self, request, pk, membership_pk):
        """A member lost their phone and their recovery codes: support, having checked who
        is asking (docs/support.md), turns their second step off. Audited with the reason,
        and the member is told by email."""
        membership = get_object_or_404(
            Membership.objects.select_related("user"), organisation_id=pk, pk=membership_pk
        )
        user = membership.user

        def action(organisation, data, **who):
            account_services.two_factor_reset(user=user, reason=data["reason"], **who)

        return self._support_form_view(
            request,
            pk,
            title=_("Réinitialiser la double authentification de %(email)s")
            % {"email": user.email},
            form=lambda data, organisation: SupportReasonForm(data),
            action=action,
            success=_(
                "La double authentification de %(email)s est désactivée ; un e-mail l'en informe."
            )
            % {"email": user.email},
            context=lambda organisation: {
                "question": _(
                    "Vérifiez d'abord l'identité de la personne (par exemple un rappel au numéro "
                    "connu du compte). Sa connexion ne demandera plus que son mot de passe ; "
                    "elle pourra réactiver la double authentification avec son nouveau téléphone."
                ),
                "submit_label": _("Réinitialiser"),
            },
        )

    def resend_confirmation_view(self, request, pk, confirmation_pk):
        """A button on the account page, not a form: POST only, the outcome as a message."""
        organisation = self._account_for_support(request, pk)
        confirmation = get_object_or_404(
            Confirmation.objects.select_related("plan", "requested_by", "organisation"),
            organisation=organisation,
            pk=confirmation_pk,
        )
        if request.method == "POST":
            try:
                subscription_services.confirmation_resend(
                    confirmation=confirmation, actor=request.user, ip=client_ip(request)
                )
            except (ValidationError, PermissionDenied) as exc:
                messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            else:
                messages.success(
                    request,
                    _("Un nouveau lien de confirmation a été envoyé à %(email)s.")
                    % {"email": confirmation.requested_by.email},
                )
        return redirect(reverse("admin:accounts_organisation_change", args=[pk]))

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__user")

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["overview"] = account_overview(organisation=obj)
        # The form is read-only (changes go through the support actions): nothing to save.
        context.update(show_save=False, show_save_and_continue=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=_("propriétaire du compte"))
    def owner_email(self, obj):
        for membership in obj.memberships.all():
            if membership.is_owner:
                return membership.user.email
        return "—"


def _without_reason(organisation) -> dict:
    # These services take no reason: the audit event names the support user and the change.
    return {"audit_note": _("La modification est inscrite au journal d'audit avec votre nom.")}
