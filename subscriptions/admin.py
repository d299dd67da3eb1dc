"""Read-only views for support. Changes go through subscriptions.services: the support
actions (change the plan, reopen, resend a confirmation) are on the account page
(support.admin.OrganisationAdmin)."""

from django.contrib import admin

from .models import AccountClosure, Confirmation, Plan, PlanPrice, Subscription


class ReadOnlyAdmin(admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PlanPriceInline(admin.TabularInline):
    model = PlanPrice
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["rank", "code", "name_fr", "name_en", "is_public"]
    ordering = ["rank"]
    inlines = [PlanPriceInline]


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "plan", "next_plan", "period_start", "period_end", "status"]
    list_filter = ["status", "plan"]
    search_fields = ["organisation__name"]
    list_select_related = ["organisation", "plan", "next_plan"]


@admin.register(Confirmation)
class ConfirmationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organisation", "kind", "plan", "status", "expires_at", "used_at"]
    list_filter = ["kind", "status"]
    search_fields = ["organisation__name"]
    exclude = ["token_hash"]
    list_select_related = ["organisation", "plan"]

    def get_readonly_fields(self, request, obj=None):
        return [f for f in super().get_readonly_fields(request, obj) if f != "token_hash"]


@admin.register(AccountClosure)
class AccountClosureAdmin(ReadOnlyAdmin):
    list_display = ["organisation", "closed_at", "anonymise_after", "anonymised_at", "reopened_at"]
    search_fields = ["organisation__name"]
    list_select_related = ["organisation"]
