"""The admin of users, members, billing contacts and the audit trail.

The account page and its support actions are the support console, in the top layer
(support.admin.OrganisationAdmin): it shows what every app holds about an account.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import journal_action_label, values_display
from .models import AuditEvent, BillingContact, Membership, User
from .permissions import client_ip
from .services.people import USER_SUPPORT_FIELDS, user_update_by_support


def _values_html(values):
    """An event's stored values, one « label : value » a line (never a Python dict)."""
    pairs = values_display(values)
    if not pairs:
        return "—"
    return format_html_join(mark_safe("<br>"), "{} : {}", pairs)  # noqa: S308 (a fixed tag)


# django-otp's own admin pages would show the TOTP secrets and the recovery codes, and let
# anyone with the permission add or delete a device without audit or email. Support resets
# a user's second factor from the account page instead (support.admin, two_factor_reset).
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Identité"), {"fields": ["first_name", "last_name", "oidc_subject"]}),
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

    def save_model(self, request, obj, form, change):
        """A change goes through the service, which records it in the journal of each of
        the person's accounts (an email changes where they sign in and get the invoices)."""
        if not change:
            return super().save_model(request, obj, form, change)
        before = {name: form.initial.get(name) for name in USER_SUPPORT_FIELDS}
        user_update_by_support(user=obj, before=before, actor=request.user, ip=client_ip(request))

    def get_readonly_fields(self, request, obj=None):
        # The OpenID Connect subject is bound by the first sign-in only (docs/integration.md).
        # Only superusers grant staff or superuser rights or change permissions.
        if request.user.is_superuser:
            return [*super().get_readonly_fields(request, obj), "oidc_subject"]
        return [
            "oidc_subject",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
            "last_login",
            "date_joined",
        ]


class ThroughServicesOnly:
    """A standard admin form that shows the row and changes nothing.

    Accounts, their members and their billing contacts change through the services, which
    validate (country, currency, VAT number, address…) and write the audit event naming
    the support user: the account page's support actions (support.admin) call them. A raw
    change form would skip both, and the next invoice would print what it saved. So every
    field is read-only, nothing is added here, and a posted form saves nothing.
    """

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in self.model._meta.fields if f.editable and not f.primary_key]
        return list(dict.fromkeys([*super().get_readonly_fields(request, obj), *names]))

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Nothing to save: no field of the form is editable."""


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
    fields = [
        "created_at",
        "organisation",
        "actor",
        "actor_label",
        "action_display",
        "before_display",
        "after_display",
        "ip_address",
    ]
    readonly_fields = fields

    @admin.display(description=_("action"))
    def action_display(self, event):
        label = journal_action_label(event.action)
        return label if label == event.action else f"{label} ({event.action})"

    @admin.display(description=_("avant"))
    def before_display(self, event):
        return _values_html(event.before)

    @admin.display(description=_("après"))
    def after_display(self, event):
        return _values_html(event.after)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
