from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import SupportRequest


@admin.register(SupportRequest)
class SupportRequestAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "subject",
        "topic",
        "name",
        "email",
        "organisation",
        "role",
        "status",
    ]
    list_filter = ["status", "topic", "role"]
    search_fields = ["subject", "email", "name", "organisation__name", "message"]
    list_select_related = ["organisation"]
    readonly_fields = [
        "organisation",
        "user",
        "role",
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

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Marquer comme fermées"), permissions=["change"])
    def close_requests(self, request, queryset):
        for support_request in queryset:
            services.support_request_close(support_request=support_request)
        messages.success(request, _("Demandes fermées."))
