from decimal import Decimal

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _in_language(french: str, english: str) -> str:
    return english if (get_language() or "fr").startswith("en") else french


class Plan(models.Model):
    """A subscription tier. Rank orders the plans: a higher rank is an upgrade."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_fr = models.CharField(_("nom (français)"), max_length=100)
    name_en = models.CharField(_("nom (anglais)"), max_length=100)
    rank = models.PositiveSmallIntegerField(_("rang"), unique=True)
    is_public = models.BooleanField(_("visible sur la page de tarifs"), default=True)

    class Meta:
        verbose_name = _("forfait")
        verbose_name_plural = _("forfaits")
        ordering = ["rank"]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return _in_language(self.name_fr, self.name_en)


class Feature(models.Model):
    """A row of the pricing page's comparison (« Programmes de prix », « Jugement en
    ligne »…). What each plan offers of it is a PlanFeature; a plan without one for this
    feature does not include it."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label_fr = models.CharField(_("libellé (français)"), max_length=120)
    label_en = models.CharField(_("libellé (anglais)"), max_length=120)
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Les lignes sont affichées par position croissante.")
    )

    class Meta:
        verbose_name = _("fonctionnalité")
        verbose_name_plural = _("fonctionnalités")
        ordering = ["position", "pk"]

    def __str__(self):
        return self.label

    @property
    def label(self):
        return _in_language(self.label_fr, self.label_en)


class PlanFeature(models.Model):
    """What `plan` offers of `feature`: included or not, and when it is a quantity or a
    level, the value to print instead of a check mark (« 5 000 », « Illimités »)."""

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="plan_values")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="feature_values")
    included = models.BooleanField(_("inclus"), default=True)
    value_fr = models.CharField(_("valeur (français)"), max_length=60, blank=True)
    value_en = models.CharField(_("valeur (anglais)"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("fonctionnalité d'un forfait")
        verbose_name_plural = _("fonctionnalités des forfaits")
        constraints = [
            models.UniqueConstraint(fields=["feature", "plan"], name="one_value_per_plan"),
            # A value says how much of it is included: none for what is not.
            models.CheckConstraint(
                condition=models.Q(included=True) | models.Q(value_fr="", value_en=""),
                name="no_value_when_not_included",
            ),
        ]

    def __str__(self):
        return f"{self.plan.code} · {self.feature.code}"

    @property
    def value(self):
        return _in_language(self.value_fr, self.value_en)


class PlanPrice(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(_("devise"), max_length=3)
    yearly_amount = models.DecimalField(
        _("prix annuel HT"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )

    class Meta:
        verbose_name = _("prix")
        verbose_name_plural = _("prix")
        constraints = [
            models.UniqueConstraint(fields=["plan", "currency"], name="one_price_per_currency"),
            models.CheckConstraint(
                condition=models.Q(yearly_amount__gte=0), name="price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.plan.code} {self.yearly_amount} {self.currency}"


class Subscription(models.Model):
    """The account's current plan and billing period (yearly, half-open [start, end))."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Actif")
        CANCELLED = "cancelled", _("Résilié")

    organisation = models.OneToOneField(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="subscription",
    )
    plan = models.ForeignKey(Plan, verbose_name=_("forfait"), on_delete=models.PROTECT)
    # Set by support for a downgrade: takes effect at the next renewal.
    next_plan = models.ForeignKey(
        Plan,
        verbose_name=_("forfait au renouvellement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    period_start = models.DateField(_("début de période"))
    period_end = models.DateField(_("fin de période (exclue)"))
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    renewal_reminder_sent_for = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("abonnement")
        verbose_name_plural = _("abonnements")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="period_not_empty",
            )
        ]

    def __str__(self):
        return f"{self.organisation} · {self.plan}"

    @property
    def renewal_plan(self):
        return self.next_plan or self.plan

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE


class Confirmation(models.Model):
    """A pending action that waits for the owner to open the link sent by email.

    Only the SHA-256 of the link's token is stored (see tokens.py): the row says what the
    link does (kind, target plan), for which account and who asked; the token is only the
    key. A newer request of the same kind supersedes the pending one.
    """

    class Kind(models.TextChoices):
        UPGRADE = "upgrade", _("Mise à niveau")
        CLOSURE = "closure", _("Fermeture du compte")
        # A SEPA mandate: a new one (`mandate` is the pending mandate) or a change of bank
        # account of the mandate in force (`mandate` is that one, `details` the new IBAN
        # and BIC); its revocation.
        MANDATE = "mandate", _("Mandat de prélèvement SEPA")
        MANDATE_REVOKE = "mandate_revoke", _("Révocation du mandat SEPA")

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        USED = "used", _("Confirmée")
        SUPERSEDED = "superseded", _("Remplacée")
        CANCELLED = "cancelled", _("Annulée")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="confirmations",
    )
    kind = models.CharField(_("action"), max_length=20, choices=Kind.choices)
    token_hash = models.CharField(_("empreinte du jeton"), max_length=64, unique=True)
    requested_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("demandée par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    # For an upgrade: the plan when it was asked (the link is stale if that changed) and
    # the plan it moves to.
    from_plan = models.ForeignKey(
        Plan,
        verbose_name=_("forfait d'origine"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    plan = models.ForeignKey(
        Plan,
        verbose_name=_("forfait demandé"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    mandate = models.ForeignKey(
        "payments.Mandate",
        verbose_name=_("mandat"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    details = models.JSONField(_("précisions"), default=dict, blank=True)
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(_("demandée le"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expire le"))
    used_at = models.DateTimeField(_("confirmée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("lien de confirmation")
        verbose_name_plural = _("liens de confirmation")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind"],
                condition=models.Q(status="pending"),
                name="one_pending_confirmation_per_kind",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="upgrade")
                | (models.Q(plan__isnull=False) & models.Q(from_plan__isnull=False)),
                name="upgrade_confirmation_has_plans",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind__in=["mandate", "mandate_revoke"])
                | models.Q(mandate__isnull=False),
                name="mandate_confirmation_has_mandate",
            ),
        ]

    def __str__(self):
        return f"{self.organisation} · {self.get_kind_display()} · {self.get_status_display()}"


class AccountClosure(models.Model):
    """One closure of an account: when, until when support may reopen it, what followed.

    The personal data of the account's people is anonymised once `anonymise_after` has
    passed, unless support reopened the account before.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="closures",
    )
    requested_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("demandée par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("fermé le"))
    anonymise_after = models.DateTimeField(_("anonymisation à partir du"))
    anonymised_at = models.DateTimeField(_("anonymisé le"), null=True, blank=True)
    reopened_at = models.DateTimeField(_("rouvert le"), null=True, blank=True)
    reopened_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("rouvert par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reopen_reason = models.TextField(_("raison de la réouverture"), blank=True)

    class Meta:
        verbose_name = _("fermeture de compte")
        verbose_name_plural = _("fermetures de compte")
        ordering = ["-closed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=models.Q(reopened_at__isnull=True),
                name="one_open_closure_per_account",
            ),
        ]

    def __str__(self):
        return f"{self.organisation} · {self.closed_at:%Y-%m-%d}"
