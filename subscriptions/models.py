from decimal import Decimal

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Plan(models.Model):
    """A subscription tier. Rank orders the plans: a higher rank is an upgrade."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_fr = models.CharField(_("nom (français)"), max_length=100)
    name_en = models.CharField(_("nom (anglais)"), max_length=100)
    rank = models.PositiveSmallIntegerField(_("rang"), unique=True)
    features_fr = models.JSONField(_("fonctionnalités (français)"), default=list, blank=True)
    features_en = models.JSONField(_("fonctionnalités (anglais)"), default=list, blank=True)
    is_public = models.BooleanField(_("visible sur la page de tarifs"), default=True)

    class Meta:
        verbose_name = _("forfait")
        verbose_name_plural = _("forfaits")
        ordering = ["rank"]

    def __str__(self):
        return self.name

    @property
    def name(self):
        return self.name_en if (get_language() or "fr").startswith("en") else self.name_fr

    @property
    def features(self):
        return self.features_en if (get_language() or "fr").startswith("en") else self.features_fr


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
