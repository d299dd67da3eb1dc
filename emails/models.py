from django.db import models
from django.utils.translation import gettext_lazy as _


class Email(models.Model):
    """An outgoing email, written in the same transaction as the change that causes it.

    The row is the outbox: a task sends it after commit and a periodic sweep sends the
    rows still pending, so a broker outage delays an email but never loses it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        SENT = "sent", _("Envoyé")
        FAILED = "failed", _("Échec")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="emails",
    )
    kind = models.CharField(_("type"), max_length=60)
    # The sender as written in the message's language ("Billing <…>" for an English
    # account); empty on rows queued before it was stored: DEFAULT_FROM_EMAIL then.
    from_email = models.CharField(_("expéditeur"), max_length=320, blank=True)
    to = models.EmailField(_("destinataire"), max_length=254)
    # Where an answer goes when it is not the sender (a support request: its author).
    reply_to = models.EmailField(_("répondre à"), max_length=254, blank=True)
    subject = models.CharField(_("objet"), max_length=255)
    # An email rendered when it is sent (emails.services.email_queue_many with
    # render_on_send): the values its template prints (emails.context) and the language;
    # its subject and bodies are empty until the send writes them. None: rendered when
    # queued.
    context = models.JSONField(_("contexte"), null=True, blank=True)
    language = models.CharField(_("langue"), max_length=10, blank=True)
    body_text = models.TextField(_("texte"))
    body_html = models.TextField(_("HTML"), blank=True)
    # [{"storage": "documents", "name": "...", "filename": "INV-1.pdf", "mimetype": "..."}]
    attachments = models.JSONField(_("pièces jointes"), default=list, blank=True)
    # Confirmation links and reset links are credentials: once delivered, the stored copy
    # of the body is replaced so that nobody can read a still-valid link from the outbox.
    redact_after_send = models.BooleanField(_("contenu retiré après envoi"), default=False)
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    # After a failure, the periodic sweep leaves the row alone until then (backoff).
    next_attempt_at = models.DateTimeField(_("prochaine tentative"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    sent_at = models.DateTimeField(_("envoyé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mails")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.subject} → {self.to}"
