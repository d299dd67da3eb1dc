from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

EVENT_TYPES = [
    "subscription.upgraded",
    "subscription.downgraded",
    "subscription.renewed",
    "account.closure_requested",
    "account.closed",
    "account.reopened",
    "account.owner_changed",
    "invoice.issued",
    "invoice.paid",
    "invoice.overdue",
    "payment.recorded",
]


class WebhookEndpoint(models.Model):
    """A URL of the host that receives the portal's events, signed with its secret.

    During a rotation the previous secret signs too (a second signature in the
    webhook-signature header) until `previous_secret_expires_at`, so the host can switch
    its verifying secret at its own pace.
    """

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("secret"), max_length=100, editable=False)
    previous_secret = models.CharField(
        _("secret précédent"), max_length=100, blank=True, editable=False
    )
    previous_secret_expires_at = models.DateTimeField(
        _("secret précédent valable jusqu'au"), null=True, blank=True, editable=False
    )
    enabled = models.BooleanField(_("actif"), default=True)
    # Event types this endpoint receives; empty: all of them.
    event_types = models.JSONField(_("types d'événements"), default=list, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("point de réception webhook")
        verbose_name_plural = _("points de réception webhook")
        ordering = ["pk"]

    def __str__(self):
        return self.url

    def clean(self):
        if not self.url.startswith(("https://", "http://")):
            raise ValidationError({"url": gettext("L'adresse doit commencer par https://.")})
        if not isinstance(self.event_types, list) or any(
            t not in EVENT_TYPES for t in self.event_types
        ):
            raise ValidationError(
                {
                    "event_types": gettext(
                        "Indiquez une liste de types parmi : %(types)s (vide : tous)."
                    )
                    % {"types": ", ".join(EVENT_TYPES)}
                }
            )

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookEvent(models.Model):
    """One event, with its one payload: every delivery and every replay sends these bytes."""

    msg_id = models.CharField(_("identifiant"), max_length=40, unique=True, editable=False)
    type = models.CharField(_("type"), max_length=60)
    payload = models.JSONField(_("contenu"))
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("événement webhook")
        verbose_name_plural = _("événements webhook")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.type} {self.msg_id}"


class WebhookDelivery(models.Model):
    """The outbox row of one event for one endpoint (written in the event's transaction)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        SENT = "sent", _("Envoyé")
        FAILED = "failed", _("Échec")

    event = models.ForeignKey(
        WebhookEvent,
        verbose_name=_("événement"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("point de réception"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("dernier code HTTP"), null=True, blank=True)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("envoi webhook")
        verbose_name_plural = _("envois webhook")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"
