"""Invoices: numbered, issued once, never edited or deleted.

An invoice is a snapshot: seller and buyer identity, addresses, VAT numbers, language,
currency, tax treatment and lines are copied in when it is issued (invoices.services.
invoice_issue, the only way one comes to exist). Afterwards only the status and the
reference to its rendered PDF may change, through QuerySet.update() of those fields alone.
Corrections are credit notes (kind "credit_note", `corrects` the invoice they correct).
"""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .tax import Treatment

# The only columns an issued invoice may still change, and only through QuerySet.update():
# its status, what payments settled of it (invoices.services.status), its rendered PDF.
MUTABLE_AFTER_ISSUE = frozenset(
    {"status", "amount_paid", "paid_on", "pdf_name", "pdf_sha256", "pdf_rendered_at"}
)

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class ImmutableInvoiceError(Exception):
    """Raised on any attempt to edit or delete an issued invoice or its lines."""


class InvoiceQuerySet(models.QuerySet):
    def update(self, **kwargs):
        forbidden = set(kwargs) - MUTABLE_AFTER_ISSUE
        if forbidden:
            raise ImmutableInvoiceError(
                f"Issued invoices cannot change {', '.join(sorted(forbidden))}."
            )
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, batch_size=None):
        if set(fields) - MUTABLE_AFTER_ISSUE:
            raise ImmutableInvoiceError("Issued invoices cannot be edited.")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def delete(self):
        raise ImmutableInvoiceError("Issued invoices cannot be deleted; issue a credit note.")

    delete.queryset_only = True


class ImmutableLineQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableInvoiceError("Invoice lines cannot be edited.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise ImmutableInvoiceError("Invoice lines cannot be edited.")

    def delete(self):
        raise ImmutableInvoiceError("Invoice lines cannot be deleted.")

    delete.queryset_only = True


class NumberSequence(models.Model):
    """The counter behind a gapless numbering: one row, locked by the issuing transaction.

    A database sequence would leave a gap at every rolled-back transaction; this row is
    incremented inside the transaction that uses the number, so both commit or neither.
    """

    name = models.CharField(_("nom"), max_length=30, unique=True)
    next_value = models.PositiveBigIntegerField(_("prochain numéro"), default=1)
    # Numbers follow the issue dates: no invoice may be dated before the last one issued.
    last_issue_date = models.DateField(_("dernière date d'émission"), null=True, blank=True)

    class Meta:
        verbose_name = _("séquence de numérotation")
        verbose_name_plural = _("séquences de numérotation")

    def __str__(self):
        return f"{self.name}: {self.next_value}"


class Invoice(models.Model):
    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Facture")
        CREDIT_NOTE = "credit_note", _("Avoir")

    class Status(models.TextChoices):
        OPEN = "open", _("À payer")
        PAID = "paid", _("Payée")
        VOID = "void", _("Annulée")

    class PaymentMethod(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", _("Virement bancaire")

    number = models.CharField(_("numéro"), max_length=20, unique=True)
    sequence = models.PositiveBigIntegerField(_("rang dans la séquence"), unique=True)
    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    kind = models.CharField(_("type"), max_length=12, choices=Kind.choices, default=Kind.INVOICE)
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("facture corrigée"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )
    status = models.CharField(
        _("statut"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    issue_date = models.DateField(_("date d'émission"))
    due_date = models.DateField(_("date d'échéance"))
    # The service period covered by the lines, half-open [start, end).
    period_start = models.DateField(_("début de la prestation"), null=True, blank=True)
    period_end = models.DateField(_("fin de la prestation (exclue)"), null=True, blank=True)
    # The day the services of the lines without a period were rendered (EN 16931 BT-72);
    # empty when every line has its period, and on invoices issued before it was recorded.
    service_date = models.DateField(_("date de la prestation"), null=True, blank=True)
    currency = models.CharField(_("devise"), max_length=3)
    language = models.CharField(_("langue"), max_length=8)

    subtotal = models.DecimalField(_("total HT"), **MONEY)
    vat_rate = models.DecimalField(_("taux de TVA"), max_digits=5, decimal_places=2)
    vat_amount = models.DecimalField(_("TVA"), **MONEY)
    total = models.DecimalField(_("total TTC"), **MONEY)
    tax_treatment = models.CharField(_("régime de TVA"), max_length=20, choices=Treatment.choices)
    tax_mention = models.TextField(_("mention de TVA"), blank=True)

    payment_method = models.CharField(
        _("mode de paiement"),
        max_length=20,
        choices=PaymentMethod.choices,
        default=PaymentMethod.BANK_TRANSFER,
    )
    # What the payments allocated to it have settled, kept by the payments app through
    # invoices.services.invoice_payments_record: the Factures tab and the invoice page read
    # it without a join. `paid_on` is the date of the payment that completed it.
    amount_paid = models.DecimalField(_("montant réglé"), default=0, **MONEY)
    paid_on = models.DateField(_("payée le"), null=True, blank=True)

    # Seller snapshot (settings.SELLER when issued).
    seller_legal_name = models.CharField(_("vendeur : dénomination"), max_length=200)
    seller_legal_form = models.CharField(_("vendeur : forme juridique et capital"), max_length=200)
    seller_address_lines = models.JSONField(_("vendeur : adresse"), default=list)
    seller_country = models.CharField(_("vendeur : pays"), max_length=2)
    seller_siren = models.CharField(_("vendeur : SIREN"), max_length=9)
    seller_rcs = models.CharField(_("vendeur : RCS"), max_length=100)
    seller_vat_number = models.CharField(_("vendeur : n° TVA"), max_length=20)
    seller_iban = models.CharField(_("vendeur : IBAN"), max_length=34)
    seller_bic = models.CharField(_("vendeur : BIC"), max_length=11)
    seller_vat_on_debits = models.BooleanField(_("vendeur : TVA d'après les débits"), default=False)

    # Buyer snapshot (the organisation when issued).
    buyer_legal_name = models.CharField(_("client : dénomination"), max_length=200)
    buyer_address_lines = models.JSONField(_("client : adresse"), default=list)
    buyer_country = models.CharField(_("client : pays"), max_length=2)
    buyer_vat_number = models.CharField(_("client : n° TVA"), max_length=20, blank=True)
    buyer_siren = models.CharField(_("client : SIREN"), max_length=9, blank=True)
    # The same address in parts, for the Factur-X XML (EN 16931 wants street lines, postcode
    # and city apart). Empty on invoices issued before it was recorded.
    buyer_street_lines = models.JSONField(_("client : voie"), default=list, blank=True)
    buyer_postal_code = models.CharField(_("client : code postal"), max_length=20, blank=True)
    buyer_city = models.CharField(_("client : ville"), max_length=100, blank=True)
    # The billing email address, recorded only for a buyer that neither its SIREN nor its
    # VAT number gives an electronic address (EN 16931 BT-49, scheme EM); empty otherwise
    # and on invoices issued before it was recorded (docs/invoices.md, Factur-X).
    buyer_email = models.EmailField(_("client : adresse e-mail"), blank=True)
    # Where the services are delivered, only when it is not the billing address (EN 16931
    # BG-15): printed, and in parts for the XML. Empty lines and country: none.
    delivery_address_lines = models.JSONField(_("adresse de livraison"), default=list, blank=True)
    delivery_street_lines = models.JSONField(_("livraison : voie"), default=list, blank=True)
    delivery_postal_code = models.CharField(_("livraison : code postal"), max_length=20, blank=True)
    delivery_city = models.CharField(_("livraison : ville"), max_length=100, blank=True)
    delivery_country = models.CharField(_("livraison : pays"), max_length=2, blank=True)
    # The buyer's references when issued: purchase order (BT-13) and buyer reference (BT-10).
    order_reference = models.CharField(_("n° de bon de commande"), max_length=50, blank=True)
    buyer_reference = models.CharField(_("référence acheteur"), max_length=100, blank=True)

    # An invoice with VAT in another currency than the euro gives its VAT in euros too (CGI
    # annexe II art. 242 nonies A; EN 16931 BT-111): the ECB reference rate of the issue date
    # (1 EUR = `exchange_rate` units of the currency), its date and the VAT converted. A
    # credit note repeats its invoice's rate. Empty otherwise, and on invoices issued before.
    exchange_rate = models.DecimalField(
        _("taux de change (1 EUR =)"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    exchange_rate_date = models.DateField(_("date du taux de change"), null=True, blank=True)
    vat_amount_eur = models.DecimalField(_("TVA en euros"), null=True, blank=True, **MONEY)

    # The PDF, rendered once after issue; its name is unguessable, its hash proves integrity.
    pdf_name = models.CharField(_("fichier PDF"), max_length=255, blank=True, editable=False)
    pdf_sha256 = models.CharField(_("SHA-256 du PDF"), max_length=64, blank=True, editable=False)
    pdf_rendered_at = models.DateTimeField(_("PDF généré le"), null=True, blank=True)

    # On a credit note: the part of it (incl. VAT, positive) that money already paid on its
    # invoice made the account's credit balance, the « avoir disponible » the next invoice
    # uses or support refunds (the payments app moved that money when the credit note was
    # issued; docs/invoices.md, Credit notes). Zero on an invoice, and on a credit note
    # taken off what was still due.
    returned_to_credit = models.DecimalField(_("porté au crédit du compte"), default=0, **MONEY)

    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("facture")
        verbose_name_plural = _("factures")
        ordering = ["-sequence"]
        indexes = [
            # Every column the Factures tab lists (invoices.selectors.invoices_page), so its
            # pages are index-only scans: the oldest page of 10,000 invoices no longer reads
            # 10,000 rows scattered over the table. (Key columns, not INCLUDE: SQLite has none.)
            models.Index(
                fields=[
                    "organisation",
                    "-sequence",
                    "id",
                    "number",
                    "kind",
                    "status",
                    "issue_date",
                    "total",
                    "currency",
                    "returned_to_credit",
                    "amount_paid",
                ],
                name="invoice_account_list",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_date__gte=F("issue_date")), name="invoice_due_after_issue"
            ),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True, period_end__isnull=True)
                | Q(period_end__gt=F("period_start")),
                name="invoice_period_not_empty",
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", corrects__isnull=True)
                | Q(kind="credit_note", corrects__isnull=False),
                name="invoice_credit_note_corrects_one",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "paid", "void"]), name="invoice_status_known"
            ),
            # Payments settle at most what an invoice asks; a credit note is never paid.
            models.CheckConstraint(
                condition=Q(amount_paid=0) | Q(amount_paid__gt=0, amount_paid__lte=F("total")),
                name="invoice_amount_paid_within_total",
            ),
            # Only a credit note returns money, at most its own amount.
            models.CheckConstraint(
                condition=Q(returned_to_credit=0)
                | Q(
                    kind="credit_note",
                    returned_to_credit__gt=0,
                    returned_to_credit__lte=-F("total"),
                ),
                name="invoice_returned_to_credit_credit_note",
            ),
            models.CheckConstraint(
                condition=Q(
                    exchange_rate__isnull=True,
                    exchange_rate_date__isnull=True,
                    vat_amount_eur__isnull=True,
                )
                | Q(
                    exchange_rate__gt=0,
                    exchange_rate_date__isnull=False,
                    vat_amount_eur__isnull=False,
                ),
                name="invoice_exchange_rate_complete",
            ),
        ]

    def __str__(self):
        return self.number

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableInvoiceError(f"Invoice {self.number} is issued and cannot be edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableInvoiceError(f"Invoice {self.number} is issued and cannot be deleted.")

    @property
    def pdf_filename(self) -> str:
        return f"{self.number}.pdf"

    @property
    def facturx_filename(self) -> str:
        return f"{self.number}.xml"

    @property
    def ubl_filename(self) -> str:
        return f"{self.number}-ubl.xml"

    @property
    def is_credit_note(self) -> bool:
        return self.kind == self.Kind.CREDIT_NOTE

    @property
    def kind_label(self) -> str:
        # The enum's label: get_kind_display() rebuilds a dict of the choices each call.
        return self.Kind(self.kind).label

    def _credit_notes(self) -> list["Invoice"]:
        """This invoice's credit notes: the ones a selector prefetched (`credit_notes`), or
        read now."""
        prefetched = getattr(self, "credit_notes", None)
        if prefetched is not None:
            return list(prefetched)
        if self.pk is None or self.is_credit_note:
            return []
        return list(self.corrections.filter(kind=self.Kind.CREDIT_NOTE).order_by("sequence"))

    def _credit_sums(self) -> tuple[Decimal, Decimal]:
        """What this invoice's credit notes take off it (incl. VAT, positive), and the part
        of that which money already paid made the account's credit balance. From the sums a
        selector added (`credited_sum`, negative, and `returned_sum`; None without credit
        note), else from its credit notes."""
        if hasattr(self, "credited_sum"):
            return -(self.credited_sum or ZERO), self.returned_sum or ZERO
        notes = self._credit_notes()
        return (
            -sum((note.total for note in notes), ZERO),
            sum((note.returned_to_credit for note in notes), ZERO),
        )

    @property
    def credited(self) -> Decimal:
        """What this invoice's credit notes take off it, incl. VAT (positive)."""
        return ZERO if self.is_credit_note else self._credit_sums()[0]

    @property
    def amount_due(self) -> Decimal:
        """What the customer still has to pay on this invoice (« Reste à payer »): its total
        less its credit notes and what payments settled, while it is open; nothing once paid
        or void, nor on a credit note."""
        if self.is_credit_note or self.status != self.Status.OPEN:
            return ZERO
        return max(self.total - self.credited - self.amount_paid, ZERO)

    @property
    def credit_returned(self) -> Decimal:
        """What credit notes gave back of the money paid on this invoice, now in the
        account's credit balance (« Ajouté à votre avoir disponible »): the sum of its credit
        notes' `returned_to_credit`, or a credit note's own. A fact of the documents as
        issued; what the account still has of it is the payments app's credit balance
        (docs/invoices.md, Credit notes)."""
        if self.is_credit_note:
            return self.returned_to_credit
        return self._credit_sums()[1]

    @property
    def credit_amount(self) -> Decimal:
        """What a credit note credits, incl. VAT (positive)."""
        return -self.total if self.is_credit_note else ZERO

    @property
    def credit_taken_off_due(self) -> Decimal:
        """What a credit note took off what was still due on its invoice, incl. VAT: its
        amount less what it gave back to the account's credit."""
        return self.credit_amount - self.returned_to_credit if self.is_credit_note else ZERO

    @property
    def cancels_whole_invoice(self) -> bool:
        """A credit note that credits its whole invoice in one go."""
        return self.is_credit_note and self.total == -self.corrects.total

    @property
    def status_label(self) -> str:
        """The status as shown: a credit note is settled the moment it is issued, so it reads
        « Imputé » (taken off what was due), or « Ajouté à l'avoir » when it gave money
        already paid back to the account's credit balance, not « Payée »."""
        if self.is_credit_note and self.status == self.Status.PAID:
            return _("Ajouté à l'avoir") if self.returned_to_credit else _("Imputé")
        # The enum's label: get_status_display() rebuilds a dict of the choices each call.
        return self.Status(self.status).label


class ExchangeRate(models.Model):
    """The euro's reference rate against another currency on one day, as the ECB publishes
    it: 1 EUR = `rate` units of `currency`. Loaded from the ECB's CSV files
    (`manage.py exchange_rates_load`) or entered by support in the admin; an invoice copies
    the rate it used, so changing a rate here never changes an issued invoice."""

    class Source(models.TextChoices):
        ECB = "ecb", _("Fichier BCE importé")
        SUPPORT = "support", _("Saisi par le support")

    currency = models.CharField(_("devise"), max_length=3)
    date = models.DateField(_("date"))
    rate = models.DecimalField(_("taux (1 EUR =)"), max_digits=18, decimal_places=6)
    source = models.CharField(_("origine"), max_length=10, choices=Source.choices)
    updated_at = models.DateTimeField(_("enregistré le"), auto_now=True)

    class Meta:
        verbose_name = _("taux de change")
        verbose_name_plural = _("taux de change")
        ordering = ["-date", "currency"]
        constraints = [
            # Also the index of « the latest rate on or before a day » (currency, date).
            models.UniqueConstraint(fields=["currency", "date"], name="exchange_rate_one_a_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
            models.CheckConstraint(condition=~Q(currency="EUR"), name="exchange_rate_not_euro"),
        ]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} 1 EUR = {self.rate.normalize():f} {self.currency}"


class InvoiceLine(models.Model):
    """One line of an issued invoice, written with it by invoice_issue (bulk_create) only."""

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("facture"), on_delete=models.PROTECT, related_name="lines"
    )
    position = models.PositiveSmallIntegerField(_("position"))
    description = models.CharField(_("désignation"), max_length=500)
    period_start = models.DateField(_("début de période"), null=True, blank=True)
    period_end = models.DateField(_("fin de période (exclue)"), null=True, blank=True)
    quantity = models.DecimalField(_("quantité"), max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(_("prix unitaire HT"), max_digits=16, decimal_places=4)
    vat_rate = models.DecimalField(_("taux de TVA"), max_digits=5, decimal_places=2)
    amount = models.DecimalField(_("montant HT"), **MONEY)
    # On a credit note, the invoice line this line credits (a quantity of it); empty for a
    # line crediting an amount, and on invoices.
    credited_line = models.ForeignKey(
        "self",
        verbose_name=_("ligne créditée"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credits",
    )

    objects = ImmutableLineQuerySet.as_manager()

    class Meta:
        verbose_name = _("ligne de facture")
        verbose_name_plural = _("lignes de facture")
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position"),
            models.CheckConstraint(
                condition=Q(period_start__isnull=True, period_end__isnull=True)
                | Q(period_end__gt=F("period_start")),
                name="invoice_line_period_not_empty",
            ),
        ]

    def __str__(self):
        return self.description

    def save(self, *args, **kwargs):
        raise ImmutableInvoiceError("Invoice lines are written once, by invoice_issue.")

    def delete(self, *args, **kwargs):
        raise ImmutableInvoiceError("Invoice lines cannot be deleted.")


class InvoiceStatusEvent(models.Model):
    """One dated step of a document's life, with where it comes from: the portal's own
    statuses (issued, paid, void), written by the services that change them, and the
    French e-invoicing lifecycle statuses (« cycle de vie », codes of the external
    specifications: 200 Déposée …), which support records from the platform
    (invoices.services.lifecycle). Append-only; docs/invoices.md, "Lifecycle"."""

    class Code(models.TextChoices):
        # The portal's own statuses.
        ISSUED = "issued", _("Émise")
        PAID = "paid", _("Payée")
        # A payment's allocation undone after it had paid the invoice: open again.
        UNPAID = "unpaid", _("Paiement annulé")
        VOID = "void", _("Annulée")
        # The reform's lifecycle statuses, by their code in the external specifications.
        DEPOSITED = "200", _("Déposée")
        APPROVED = "205", _("Approuvée")
        REFUSED = "210", _("Refusée")
        CASHED = "212", _("Encaissée")
        REJECTED = "213", _("Rejetée")

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portail")
        PLATFORM = "platform", _("Plateforme (saisi par le support)")
        IMPORT = "import", _("Import CSV du support")

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("facture"), on_delete=models.PROTECT, related_name="status_events"
    )
    code = models.CharField(_("statut"), max_length=10, choices=Code.choices)
    occurred_at = models.DateTimeField(_("date du statut"))
    recorded_at = models.DateTimeField(_("enregistré le"), default=timezone.now)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("auteur"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("statut de facture")
        verbose_name_plural = _("historique des statuts")
        ordering = ["invoice", "occurred_at", "id"]
        indexes = [models.Index(fields=["invoice", "occurred_at"], name="invoice_status_event_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    code__in=["issued", "paid", "unpaid", "void", "200", "205", "210", "212", "213"]
                ),
                name="invoice_status_event_code_known",
            ),
        ]

    def __str__(self):
        return f"{self.invoice_id} {self.code} {self.occurred_at:%Y-%m-%d}"

    @property
    def label(self) -> str:
        return self.Code(self.code).label

    @property
    def source_public(self) -> str:
        """Where the status comes from, as the owner reads it (not who typed it)."""
        return _("Portail") if self.source == self.Source.PORTAL else _("Plateforme agréée")

    @property
    def is_lifecycle(self) -> bool:
        """A status of the reform's lifecycle (it has a numeric code)."""
        return self.code.isdigit()
