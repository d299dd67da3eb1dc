from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from .siren import siren_of_vat_number

NAME_MAX_LENGTH = 150
# Chorus Pro's limits for the « numéro d'engagement » and the « code service », which public
# buyers give as these references (docs/invoices.md, The buyer's references).
ORDER_REFERENCE_MAX_LENGTH = 50
BUYER_REFERENCE_MAX_LENGTH = 100


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username):
        # Sign-in by email is case-insensitive (addresses are stored in lower case).
        return self.get(email__iexact=username)

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person who signs in with the host's identity provider (OpenID Connect) or, where
    password sign-in is on, with an email address and a password."""

    username = None
    email = models.EmailField(_("adresse e-mail"), unique=True)
    # The identity provider's `sub` claim, bound at the first OpenID Connect sign-in
    # (accounts/services/sign_in.py); later sign-ins match on it alone, never on the email.
    oidc_subject = models.CharField(
        _("identifiant OpenID Connect"), max_length=255, null=True, blank=True, unique=True
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name"]

    objects = UserManager()

    class Meta:
        verbose_name = _("utilisateur")
        verbose_name_plural = _("utilisateurs")

    def __str__(self):
        return self.get_full_name() or self.email


class Organisation(models.Model):
    """A customer account: the organisation that subscribes and is invoiced."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Actif")
        CLOSED = "closed", _("Fermé")

    name = models.CharField(_("nom"), max_length=200)
    address_line1 = models.CharField(_("adresse"), max_length=200, blank=True)
    address_line2 = models.CharField(_("complément d'adresse"), max_length=200, blank=True)
    postal_code = models.CharField(_("code postal"), max_length=20, blank=True)
    city = models.CharField(_("ville"), max_length=100, blank=True)
    country = models.CharField(_("pays"), max_length=2, default="FR")
    vat_number = models.CharField(_("numéro de TVA"), max_length=20, blank=True)
    # The French business register number (accounts.siren); printed on the invoices and
    # the buyer's electronic address in their Factur-X XML.
    siren = models.CharField(_("SIREN"), max_length=9, blank=True)
    # Where the services are delivered, when not at the billing address: all empty = none.
    delivery_line1 = models.CharField(_("adresse de livraison"), max_length=200, blank=True)
    delivery_line2 = models.CharField(
        _("complément d'adresse de livraison"), max_length=200, blank=True
    )
    delivery_postal_code = models.CharField(
        _("code postal de livraison"), max_length=20, blank=True
    )
    delivery_city = models.CharField(_("ville de livraison"), max_length=100, blank=True)
    delivery_country = models.CharField(_("pays de livraison"), max_length=2, blank=True)
    # The buyer's own references, copied onto every invoice (EN 16931 BT-13 and BT-10; for
    # a public buyer on Chorus Pro, the « numéro d'engagement » and the « code service »).
    order_reference = models.CharField(
        _("numéro de bon de commande"), max_length=ORDER_REFERENCE_MAX_LENGTH, blank=True
    )
    buyer_reference = models.CharField(
        _("référence acheteur"), max_length=BUYER_REFERENCE_MAX_LENGTH, blank=True
    )
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    language = models.CharField(_("langue"), max_length=8, default="fr")
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    closed_at = models.DateTimeField(_("fermé le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("compte client")
        verbose_name_plural = _("comptes clients")
        ordering = ["name"]
        indexes = [models.Index(fields=["vat_number"])]

    def __str__(self):
        return self.name

    @property
    def is_closed(self):
        return self.status == self.Status.CLOSED

    @property
    def invoice_siren(self) -> str:
        """The SIREN its invoices print: the one entered, else the one inside its French
        VAT number (accounts whose owner has not entered it yet)."""
        return self.siren or siren_of_vat_number(self.vat_number, self.country)

    @property
    def has_delivery_address(self) -> bool:
        return bool(self.delivery_line1 or self.delivery_city)


class Membership(models.Model):
    """A platform user's place in an account: its owner or one of its program managers."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Propriétaire du compte")
        MANAGER = "manager", _("Gestionnaire du programme")

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    # A person may belong to several accounts (an agency, a group of companies), once each;
    # each request is about the one chosen in the session (accounts.permissions).
    user = models.ForeignKey(
        User, verbose_name=_("utilisateur"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("rôle"), max_length=10, choices=Role.choices, default=Role.MANAGER)
    created_at = models.DateTimeField(_("ajouté le"), auto_now_add=True)
    # When the person last chose this account in the header's switcher: the account a new
    # session opens on (accounts.selectors.user_memberships). Navigation, not audited.
    chosen_at = models.DateTimeField(_("choisi le"), null=True, blank=True)

    class Meta:
        verbose_name = _("membre")
        verbose_name_plural = _("membres")
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=models.Q(role="owner"),
                name="one_owner_per_account",
                violation_error_message=_("Ce compte a déjà un propriétaire."),
            ),
            models.UniqueConstraint(
                fields=["organisation", "user"],
                name="one_membership_per_user_and_account",
                violation_error_message=_("Cette personne est déjà membre de ce compte."),
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.get_role_display()})"

    @property
    def is_owner(self):
        return self.role == self.Role.OWNER


class BillingContact(models.Model):
    """Someone who receives the invoices without being a platform user."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="billing_contacts",
    )
    first_name = models.CharField(_("prénom"), max_length=NAME_MAX_LENGTH)
    last_name = models.CharField(_("nom"), max_length=NAME_MAX_LENGTH)
    email = models.EmailField(_("adresse e-mail"), max_length=254)
    created_at = models.DateTimeField(_("ajouté le"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact de facturation")
        verbose_name_plural = _("contacts de facturation")
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                "organisation",
                Lower("email"),
                name="unique_billing_contact_email_per_account",
                violation_error_message=_("Ce contact existe déjà pour ce compte."),
            ),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name} <{self.email}>"

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"


class AuditEvent(models.Model):
    """Append-only: who changed what on an account, before and after, from where, when."""

    organisation = models.ForeignKey(
        Organisation,
        verbose_name=_("compte client"),
        on_delete=models.PROTECT,
        related_name="audit_events",
        null=True,
        blank=True,
        db_index=False,  # the first column of audit_account_recent
    )
    actor = models.ForeignKey(
        User, verbose_name=_("auteur"), on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(_("auteur"), max_length=200)
    action = models.CharField(_("action"), max_length=60, db_index=True)
    before = models.JSONField(_("avant"), default=dict, blank=True)
    after = models.JSONField(_("après"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("adresse IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("date"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("événement d'audit")
        verbose_name_plural = _("journal d'audit")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # An account's latest events (recent activity, the admin's history): without it
            # PostgreSQL walks the created_at index backwards through everyone's events, and
            # an account whose events are all old costs a scan of the table (65 ms at 400,000
            # events, docs/performance.md) instead of ~0.1 ms.
            models.Index(
                fields=["organisation", "-created_at", "-id"], name="audit_account_recent"
            ),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class RateLimitCounter(models.Model):
    """Hits counted against one limit and one client, account or address, in its current
    window (accounts.ratelimit). The key is a digest: no address is stored in clear."""

    key = models.CharField(_("clé"), max_length=100, unique=True)
    count = models.PositiveIntegerField(_("nombre"), default=0)
    expires_at = models.DateTimeField(_("fin de la période"), db_index=True)

    class Meta:
        verbose_name = _("compteur de limite")
        verbose_name_plural = _("compteurs de limite")

    def __str__(self):
        return f"{self.key} {self.count}"
