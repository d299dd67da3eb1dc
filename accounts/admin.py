from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from . import services
from .models import AuditEvent, BillingContact, Membership, Organisation, User
from .permissions import client_ip


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


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Identité"), {"fields": ["first_name", "last_name"]}),
        (
            _("Droits"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "password1", "password2"],
            },
        )
    ]

    def get_readonly_fields(self, request, obj=None):
        # Only superusers grant staff or superuser rights or change permissions.
        if request.user.is_superuser:
            return super().get_readonly_fields(request, obj)
        return [
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
            "last_login",
            "date_joined",
        ]


class SupportPlanForm(forms.Form):
    plan = forms.ModelChoiceField(label=_("Forfait"), queryset=None)
    immediately = forms.BooleanField(
        label=_("Tout de suite (mises à niveau seulement, facturées au prorata)"),
        required=False,
        help_text=_("Sinon le changement prend effet au prochain renouvellement."),
    )
    reason = forms.CharField(
        label=_("Raison du changement"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        from subscriptions.models import Plan

        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = Plan.objects.order_by("rank")


class SupportReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Raison"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )


class ThroughServicesOnly:
    """A standard admin form that shows the row and changes nothing.

    Accounts, their members and their billing contacts change through the services, which
    validate (country, currency, VAT number, address…) and write the audit event naming
    the support user: the account page's support actions call them. A raw change form would
    skip both, and the next invoice would print what it saved. So every field is read-only,
    nothing is added here, and a posted form saves nothing.
    """

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields if f.editable and not f.primary_key]
        return list(dict.fromkeys([*super().get_readonly_fields(request, obj), *names]))

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Nothing to save: no field of the form is editable (nor of its inlines)."""


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "user_email", "role", "created_at"]
    readonly_fields = ["user", "user_email", "role", "created_at"]

    @admin.display(description=_("adresse e-mail"))
    def user_email(self, obj):
        return obj.user.email

    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        # Roles change through the ownership service (one owner per account, audited).
        return False


class BillingContactInline(admin.TabularInline):
    model = BillingContact
    extra = 0
    fields = ["first_name", "last_name", "email", "created_at"]
    readonly_fields = ["first_name", "last_name", "email", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Organisation)
class OrganisationAdmin(ThroughServicesOnly, admin.ModelAdmin):
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
    inlines = [MembershipInline, BillingContactInline]
    readonly_fields = ["status", "closed_at", "created_at"]
    change_form_template = "admin/accounts/organisation/change_form.html"

    def get_urls(self):
        custom = [
            path(
                "<int:pk>/change-owner/",
                self.admin_site.admin_view(self.change_owner_view),
                name="accounts_organisation_change_owner",
            ),
            path(
                "<int:pk>/change-plan/",
                self.admin_site.admin_view(self.change_plan_view),
                name="accounts_organisation_change_plan",
            ),
            path(
                "<int:pk>/reopen/",
                self.admin_site.admin_view(self.reopen_view),
                name="accounts_organisation_reopen",
            ),
            path(
                "<int:pk>/confirmations/<int:confirmation_pk>/resend/",
                self.admin_site.admin_view(self.resend_confirmation_view),
                name="accounts_organisation_resend_confirmation",
            ),
        ]
        return custom + super().get_urls()

    def _support_form_view(self, request, pk, *, title, form, action, template, extra=None):
        """A support action on one account: a form, then the service, then back."""
        organisation = get_object_or_404(Organisation, pk=pk)
        if not self.has_change_permission(request, organisation):
            raise PermissionDenied
        if request.method == "POST" and form.is_valid():
            try:
                message = action(organisation, form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, message)
                return redirect(reverse("admin:accounts_organisation_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": organisation,
            "title": title,
            "form": form,
            **(extra or {}),
        }
        return TemplateResponse(request, template, context)

    def change_plan_view(self, request, pk):
        from subscriptions.services import plan_change_by_support

        def action(organisation, data):
            plan_change_by_support(
                organisation=organisation,
                plan=data["plan"],
                immediately=data["immediately"],
                reason=data["reason"],
                actor=request.user,
                ip=client_ip(request),
            )
            return _("Le forfait a été modifié.")

        return self._support_form_view(
            request,
            pk,
            title=_("Changer le forfait"),
            form=SupportPlanForm(request.POST or None),
            action=action,
            template="admin/accounts/organisation/support_form.html",
        )

    def reopen_view(self, request, pk):
        from subscriptions.services import account_reopen

        def action(organisation, data):
            account_reopen(
                organisation=organisation,
                reason=data["reason"],
                actor=request.user,
                ip=client_ip(request),
            )
            return _("Le compte a été rouvert.")

        return self._support_form_view(
            request,
            pk,
            title=_("Rouvrir le compte"),
            form=SupportReasonForm(request.POST or None),
            action=action,
            template="admin/accounts/organisation/support_form.html",
        )

    def resend_confirmation_view(self, request, pk, confirmation_pk):
        from subscriptions.models import Confirmation
        from subscriptions.services import confirmation_resend

        organisation = get_object_or_404(Organisation, pk=pk)
        confirmation = get_object_or_404(
            Confirmation.objects.select_related("plan", "requested_by", "organisation"),
            organisation=organisation,
            pk=confirmation_pk,
        )
        if not self.has_change_permission(request, organisation):
            raise PermissionDenied
        if request.method != "POST":
            return redirect(reverse("admin:accounts_organisation_change", args=[pk]))
        try:
            confirmation_resend(
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

    def change_owner_view(self, request, pk):
        """The seed's "contact support to take over" path: same service as the portal."""
        organisation = get_object_or_404(Organisation, pk=pk)
        if not self.has_change_permission(request, organisation):
            raise PermissionDenied
        form = SupportOwnerForm(request.POST or None, organisation=organisation)
        if request.method == "POST" and form.is_valid():
            try:
                services.ownership_transfer(
                    organisation=organisation,
                    new_owner_membership_id=form.cleaned_data["new_owner"].pk,
                    actor=request.user,
                    by_support=True,
                    reason=form.cleaned_data["reason"],
                    ip=client_ip(request),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Le propriétaire du compte a été modifié."))
                return redirect(reverse("admin:accounts_organisation_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": organisation,
            "title": _("Changer le propriétaire du compte"),
            "form": form,
            "current_owner": organisation.memberships.filter(role=Membership.Role.OWNER)
            .select_related("user")
            .first(),
        }
        return TemplateResponse(request, "admin/accounts/organisation/change_owner.html", context)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__user")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The account page support works from: everything about the account on one page."""
        from invoices.models import Invoice
        from subscriptions.models import Confirmation, Subscription
        from support.models import SupportRequest

        extra_context = {
            **(extra_context or {}),
            "account_subscription": Subscription.objects.select_related("plan", "next_plan")
            .filter(organisation_id=object_id)
            .first(),
            "pending_confirmations": Confirmation.objects.filter(
                organisation_id=object_id, status=Confirmation.Status.PENDING
            ).select_related("plan", "requested_by"),
            "account_invoices": Invoice.objects.filter(organisation_id=object_id).order_by(
                "-issue_date", "-pk"
            )[:25],
            "support_requests": SupportRequest.objects.filter(organisation_id=object_id)[:10],
            "audit_events": AuditEvent.objects.filter(organisation_id=object_id)[:20],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("propriétaire du compte"))
    def owner_email(self, obj):
        for membership in obj.memberships.all():
            if membership.is_owner:
                return membership.user.email
        return "—"


@admin.register(Membership)
class MembershipAdmin(ThroughServicesOnly, admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__last_name", "organisation__name"]
    list_select_related = ["user", "organisation"]
    readonly_fields = ["role"]


@admin.register(BillingContact)
class BillingContactAdmin(ThroughServicesOnly, admin.ModelAdmin):
    list_display = ["first_name", "last_name", "email", "organisation", "created_at"]
    search_fields = ["email", "first_name", "last_name", "organisation__name"]
    list_select_related = ["organisation"]
    list_filter = ["organisation__country"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organisation", "actor_label", "action", "ip_address"]
    list_filter = ["action", ("organisation", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["organisation__name", "actor_label", "action"]
    list_select_related = ["organisation"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
