from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Email

BODY_FIELDS = ("body_text", "body_html")


@admin.register(Email)
class EmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "to", "subject", "kind", "status", "attempts", "sent_at"]
    list_filter = ["status", "kind"]
    search_fields = ["to", "subject", "organisation__name"]
    # The stored body is shown through `content`, never as such: a confirmation or reset
    # link in a pending or failed email is a working credential of the customer's.
    fields = [
        *(f.name for f in Email._meta.fields if f.name not in ("id", *BODY_FIELDS)),
        "content",
    ]
    readonly_fields = fields
    actions = ["resend"]

    @admin.display(description=_("contenu"))
    def content(self, obj):
        if obj.redact_after_send:
            return gettext(
                "Contenu masqué : ce message contient un lien personnel (confirmation ou "
                "réinitialisation du mot de passe) que seul son destinataire doit voir."
            )
        # An email rendered when sent, not yet sent: what the send will write.
        return services.email_content(obj)["body_text"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Renvoyer les e-mails sélectionnés"), permissions=["change"])
    def resend(self, request, queryset):
        """Put failed (or already sent) emails back in the outbox; pending ones are left."""
        count = 0
        for email in queryset.exclude(status=Email.Status.PENDING):
            try:
                services.email_resend(email_id=email.pk)
            except ValidationError as exc:
                messages.warning(request, f"{email.to} : {' '.join(exc.messages)}")
                continue
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
