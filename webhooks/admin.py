from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "description", "enabled", "created_at"]
    list_filter = ["enabled"]
    fields = [
        "url",
        "description",
        "enabled",
        "event_types",
        "secret",
        "previous_secret_expires_at",
    ]
    readonly_fields = ["secret", "previous_secret_expires_at"]
    actions = ["rotate_secret", "disable"]

    def save_model(self, request, obj, form, change):
        services.endpoint_save(endpoint=obj)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Renouveler le secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_rotate_secret(endpoint_id=endpoint.pk)
        messages.success(
            request,
            ngettext(
                "%(count)d secret renouvelé ; l'ancien signe encore pendant 24 heures.",
                "%(count)d secrets renouvelés ; les anciens signent encore pendant 24 heures.",
                queryset.count(),
            )
            % {"count": queryset.count()},
        )

    @admin.action(description=_("Désactiver"), permissions=["change"])
    def disable(self, request, queryset):
        services.endpoints_disable(endpoint_ids=list(queryset.values_list("pk", flat=True)))


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["endpoint", "status", "attempts", "last_status_code", "last_error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "type", "msg_id"]
    list_filter = ["type"]
    search_fields = ["msg_id"]
    fields = ["msg_id", "type", "payload", "created_at"]
    readonly_fields = fields
    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "event__type"]
    search_fields = ["event__msg_id"]
    fields = [f.name for f in WebhookDelivery._meta.fields if f.name != "id"]
    readonly_fields = fields
    actions = ["replay"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Rejouer"), permissions=["change"])
    def replay(self, request, queryset):
        count = 0
        for delivery in queryset:
            services.webhook_replay(delivery_id=delivery.pk)
            count += 1
        messages.success(
            request,
            ngettext(
                "%(count)d envoi remis dans la file.",
                "%(count)d envois remis dans la file.",
                count,
            )
            % {"count": count},
        )
