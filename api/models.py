"""The host's API clients, their keys, the accounts each client created, and the
idempotency keys of their POST requests (docs/integration.md, « API »)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

# What a key may do. Reads and writes apart, so a reporting job gets a read-only key.
SCOPES = {
    "accounts:read": _("Lire les comptes et leur abonnement"),
    "accounts:write": _("Créer, modifier et fermer des comptes"),
    "subscriptions:write": _("Changer le forfait d'un compte"),
    "members:read": _("Lire les membres d'un compte"),
    "members:write": _("Ajouter, modifier et retirer des membres"),
    "invoices:read": _("Lire les factures d'un compte"),
}


class ApiClient(models.Model):
    """One integration of the host (one per environment of the host SaaS, say). It sees and
    changes only the accounts it created. `user` names it in the audit trail (« API … »):
    an inactive user without password, never a member of any account."""

    name = models.CharField(_("nom"), max_length=100, unique=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    user = models.OneToOneField(
        "accounts.User",
        verbose_name=_("auteur dans le journal"),
        on_delete=models.PROTECT,
        related_name="api_client",
        editable=False,
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("client de l'API")
        verbose_name_plural = _("clients de l'API")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ApiKey(models.Model):
    """A client's key. Only its SHA-256 is stored; the prefix (shown in the admin and sent
    first in the key) finds the row, then the hashes are compared in constant time."""

    client = models.ForeignKey(
        ApiClient, verbose_name=_("client"), on_delete=models.CASCADE, related_name="keys"
    )
    name = models.CharField(_("nom"), max_length=100)
    prefix = models.CharField(_("préfixe"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(_("empreinte"), max_length=64, editable=False)
    scopes = models.JSONField(_("droits"), default=list)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("dernière utilisation"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("révoquée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("clé d'API")
        verbose_name_plural = _("clés d'API")
        ordering = ["client", "-created_at", "-pk"]

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self):
        return self.revoked_at is None


class ClientAccount(models.Model):
    """An account a client created: the client's to see and change, nobody else's. Kept
    here, so that the accounts app knows nothing of the API."""

    client = models.ForeignKey(
        ApiClient, verbose_name=_("client"), on_delete=models.PROTECT, related_name="accounts"
    )
    organisation = models.OneToOneField(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="api_link",
    )
    # The host's own identifier for the account, if it gives one (unique per client).
    external_id = models.CharField(_("identifiant chez l'hôte"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("compte créé par l'API")
        verbose_name_plural = _("comptes créés par l'API")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "external_id"],
                condition=~models.Q(external_id=""),
                name="one_external_id_per_client",
            )
        ]

    def __str__(self):
        return f"{self.client} · {self.organisation_id}"


class IdempotencyRecord(models.Model):
    """A POST sent with an Idempotency-Key: the first one runs and its answer is kept for
    24 hours; the same key again replays it. `status_code` is empty while it runs."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=b"")
    location = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("clé d'idempotence")
        verbose_name_plural = _("clés d'idempotence")
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="one_idempotency_key")
        ]

    def __str__(self):
        return self.key
