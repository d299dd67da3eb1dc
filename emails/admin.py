from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import Email


@admin.register(Email)
class EmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "to", "subject", "kind", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["to", "subject", "organisation__name"]
    readonly_fields = [f.name for f in Email._meta.fields]
    actions = ["resend"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Renvoyer les e-mails sélectionnés"), permissions=["change"])
    def resend(self, request, queryset):
        """Put failed (or already sent) emails back in the outbox; pending ones are left."""
        count = 0
        for email in queryset.exclude(status=Email.Status.PENDING):
            services.email_resend(email_id=email.pk)
            count += 1
        messages.success(
            request,
            ngettext(
                "%(count)d e-mail remis dans la file d'envoi.",
                "%(count)d e-mails remis dans la file d'envoi.",
                count,
            )
            % {"count": count},
        )
