from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership

SUBJECT_MAX_LENGTH = 200
MESSAGE_MAX_LENGTH = 5000


class SupportRequest(models.Model):
    """A message sent through « Besoin d'aide ? Contactez-nous »."""

    class Status(models.TextChoices):
        OPEN = "open", _("Ouverte")
        CLOSED = "closed", _("Fermée")

    class Topic(models.TextChoices):
        GENERAL = "general", _("Question générale")
        OWNERSHIP = "ownership", _("Reprendre la propriété du compte")
        DOWNGRADE = "downgrade", _("Changer pour un forfait inférieur")
        EMAIL = "email", _("E-mail de confirmation non reçu")
        CLOSURE = "closure", _("Fermeture du compte")
        INVOICE = "invoice", _("Question sur une facture")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="support_requests",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    role = models.CharField(_("rôle"), max_length=20, blank=True)
    name = models.CharField(_("nom"), max_length=150)
    email = models.EmailField(_("adresse e-mail"))
    topic = models.CharField(
        _("sujet"), max_length=20, choices=Topic.choices, default=Topic.GENERAL
    )
    subject = models.CharField(_("objet"), max_length=SUBJECT_MAX_LENGTH)
    message = models.TextField(_("message"), max_length=MESSAGE_MAX_LENGTH)
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    # The language support's answers are written in: the account's, or the page's for a
    # visitor who is not signed in.
    language = models.CharField(_("langue"), max_length=8, default="fr")
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("reçue le"), auto_now_add=True, db_index=True)
    closed_at = models.DateTimeField(_("fermée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("demande de support")
        verbose_name_plural = _("demandes de support")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.subject} ({self.email})"

    @property
    def role_label(self) -> str:
        """The author's role when they wrote, by its label (« Propriétaire du compte »); the
        stored code is kept as it was (a visitor has none)."""
        if self.role in Membership.Role.values:
            return str(Membership.Role(self.role).label)
        return self.role


class SupportReply(models.Model):
    """An answer support sent to a request's author from the admin, by email. Kept with the
    request, so the next person on support sees what was said."""

    request = models.ForeignKey(
        SupportRequest,
        verbose_name=_("demande"),
        on_delete=models.CASCADE,
        related_name="replies",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    message = models.TextField(_("réponse"), max_length=MESSAGE_MAX_LENGTH)
    sent_at = models.DateTimeField(_("envoyée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("réponse du support")
        verbose_name_plural = _("réponses du support")
        ordering = ["sent_at", "pk"]

    def __str__(self):
        return f"#{self.request_id} {self.sent_at:%Y-%m-%d %H:%M}"
