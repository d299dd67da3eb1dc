from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, BillingContact, Membership, Organisation, User


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


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
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
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "owner_email", "country", "vat_number", "currency", "status"]
    list_filter = ["status", "country", "currency", "language"]
    search_fields = [
        "name",
        "vat_number",
        "memberships__user__email",
        "memberships__user__last_name",
        "billing_contacts__email",
    ]
    inlines = [MembershipInline, BillingContactInline]
    readonly_fields = ["status", "closed_at", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("memberships__user")

    @admin.display(description=_("propriétaire du compte"))
    def owner_email(self, obj):
        for membership in obj.memberships.all():
            if membership.is_owner:
                return membership.user.email
        return "—"


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organisation", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "user__last_name", "organisation__name"]
    list_select_related = ["user", "organisation"]
    readonly_fields = ["role"]
    autocomplete_fields = ["user", "organisation"]


@admin.register(BillingContact)
class BillingContactAdmin(admin.ModelAdmin):
    list_display = ["first_name", "last_name", "email", "organisation", "created_at"]
    search_fields = ["email", "first_name", "last_name", "organisation__name"]
    list_select_related = ["organisation"]
    list_filter = ["organisation__country"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organisation", "actor_label", "action", "ip_address"]
    list_filter = ["action"]
    search_fields = ["organisation__name", "actor_label", "action"]
    list_select_related = ["organisation"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
