"""Payments as records: money received, where it went, and the bank's files it came from.

A `Payment` is money an account paid (a transfer, a direct debit...). `Allocation`s send it
to invoices, or to a `Refund` (money paid back); what is allocated to nothing is the
account's credit balance, which the next invoice uses. An allocation is never edited or
deleted: it is undone by an `AllocationReversal`, which records who and why (support, or a
credit note that gives money already paid back to the credit balance).

A `BankStatement` is one camt.053 or camt.054 file support imported; each booked credit in
it is a `BankEntry`, unique by the bank's own reference (`entry_key`), so importing a file
twice, or two files that overlap, records each credit once. A matched entry records a
payment; the others wait in the reconciliation queue.

Every row here is written by payments.services, once: save() of an existing row and
delete() raise.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 14, "decimal_places": 2}


class RecordError(Exception):
    """Raised on any attempt to edit or delete a payment record."""


class RecordQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise RecordError("Payment records are written once; undo an allocation instead.")

    def delete(self):
        raise RecordError("Payment records are never deleted; undo an allocation instead.")

    delete.queryset_only = True


class Record(models.Model):
    """Written once by a service, never changed."""

    objects = RecordQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise RecordError(f"{self._meta.verbose_name} {self.pk} is a record: no change.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RecordError(f"{self._meta.verbose_name} {self.pk} is a record: no delete.")


class BankStatement(models.Model):
    """One imported file: a camt.053 statement or a camt.054 notification. Written by
    statement_import, its counts filled in at the end of the same transaction."""

    class Kind(models.TextChoices):
        STATEMENT = "camt.053", _("Relevé de compte (camt.053)")
        NOTIFICATION = "camt.054", _("Avis de crédit (camt.054)")

    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices)
    version = models.CharField(_("version du message"), max_length=20)
    message_id = models.CharField(_("identifiant du message"), max_length=35)
    file_name = models.CharField(_("fichier"), max_length=255)
    sha256 = models.CharField(_("SHA-256 du fichier"), max_length=64, db_index=True)
    size = models.PositiveIntegerField(_("taille (octets)"))
    account_iban = models.CharField(_("compte"), max_length=34)
    credits = models.PositiveIntegerField(_("crédits lus"), default=0)
    new_entries = models.PositiveIntegerField(_("crédits nouveaux"), default=0)
    matched = models.PositiveIntegerField(_("rapprochés"), default=0)
    queued = models.PositiveIntegerField(_("à rapprocher"), default=0)
    ignored = models.PositiveIntegerField(_("autres écritures ignorées"), default=0)
    returns = models.PositiveIntegerField(_("prélèvements rejetés lus"), default=0)
    imported_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("importé par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    imported_at = models.DateTimeField(_("importé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("relevé bancaire importé")
        verbose_name_plural = _("relevés bancaires importés")
        ordering = ["-imported_at", "-pk"]

    def __str__(self):
        return f"{self.kind} {self.message_id}"

    @property
    def duplicates(self) -> int:
        return self.credits + self.returns - self.new_entries


class BankEntry(models.Model):
    """A booked credit on the seller's account, as its first file reported it; or a direct
    debit the bank took back from it (`kind` return: a debit, its amount kept positive, with
    the bank's reason code), which undoes its collection (payments.services.collection_return).

    `entry_key` is the bank's reference for it (account + AcctSvcrRef, and the transaction's
    reference inside a batch): the unique index records each credit once, however many
    files, or imports running at once, bring it. Its status changes once, by a service:
    matched when it recorded a payment, queued until support assigns or dismisses it.
    """

    class Status(models.TextChoices):
        MATCHED = "matched", _("Rapproché automatiquement")
        QUEUED = "queued", _("À rapprocher")
        ASSIGNED = "assigned", _("Imputé par le support")
        DISMISSED = "dismissed", _("Écarté par le support")

    class Rule(models.TextChoices):
        REFERENCE = "rf", _("Référence RF")
        NUMBER = "number", _("Numéro de facture dans le libellé")
        AMOUNT = "amount", _("Payeur connu et montant exact")
        SUPPORT = "support", _("Imputé par le support")
        COLLECTION = "collection", _("Prélèvement SEPA (référence de bout en bout)")

    class Kind(models.TextChoices):
        CREDIT = "credit", _("Crédit")
        RETURN = "return", _("Prélèvement rejeté (débit)")

    statement = models.ForeignKey(
        BankStatement,
        verbose_name=_("relevé"),
        on_delete=models.PROTECT,
        related_name="entries",
    )
    entry_key = models.CharField(_("référence bancaire unique"), max_length=200, unique=True)
    kind = models.CharField(_("sens"), max_length=6, choices=Kind.choices, default=Kind.CREDIT)
    return_reason = models.CharField(_("motif du rejet"), max_length=4, blank=True)
    account_iban = models.CharField(_("compte crédité"), max_length=34)
    bank_reference = models.CharField(_("référence de la banque"), max_length=140, blank=True)
    end_to_end_id = models.CharField(_("référence de bout en bout"), max_length=140, blank=True)
    amount = models.DecimalField(_("montant"), **MONEY)
    currency = models.CharField(_("devise"), max_length=3)
    booked_on = models.DateField(_("date de comptabilisation"))
    payer_name = models.CharField(_("payeur"), max_length=140, blank=True)
    payer_iban = models.CharField(_("IBAN du payeur"), max_length=34, blank=True)
    creditor_reference = models.CharField(_("référence structurée"), max_length=35, blank=True)
    remittance = models.TextField(_("libellé"), blank=True)

    class Reason(models.TextChoices):
        NO_MATCH = "no_match", _("Ni référence, ni numéro de facture, ni payeur connu")
        UNKNOWN_REFERENCE = "unknown_ref", _("Référence ou numéro de facture inconnu")
        SEVERAL_ACCOUNTS = "accounts", _("Le libellé cite des factures de plusieurs comptes")
        SEVERAL_PAYERS = "payers", _("Payeur connu de plusieurs comptes")
        NO_AMOUNT = "no_amount", _("Payeur connu, aucune facture ouverte de ce montant")
        SEVERAL_AMOUNTS = "amounts", _("Payeur connu, plusieurs factures ouvertes de ce montant")
        CURRENCY = "currency", _("Aucune facture citée dans la devise du virement")
        UNKNOWN_RETURN = "dd_return", _("Rejet d'un prélèvement qui n'est pas en cours")

    status = models.CharField(_("statut"), max_length=10, choices=Status.choices)
    rule = models.CharField(_("règle"), max_length=10, choices=Rule.choices, blank=True)
    # Why it waits in the queue (a code, shown translated, and what it names: numbers,
    # an account), and the invoices it could be for.
    queue_reason = models.CharField(_("motif"), max_length=12, choices=Reason.choices, blank=True)
    queue_detail = models.CharField(_("précision"), max_length=300, blank=True)
    candidates = models.ManyToManyField(
        "invoices.Invoice", verbose_name=_("factures possibles"), blank=True, related_name="+"
    )
    resolved_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("traité par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("traité le"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("écriture bancaire")
        verbose_name_plural = _("écritures bancaires")
        ordering = ["-booked_on", "-pk"]
        indexes = [models.Index(fields=["status", "booked_on"], name="bank_entry_queue")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="bank_entry_credit"),
        ]

    def __str__(self):
        return f"{self.booked_on} {self.amount} {self.currency} {self.payer_name}".strip()


class Refund(Record):
    """Money paid back to an account out of its credit balance."""

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.PROTECT,
        related_name="refunds",
    )
    amount = models.DecimalField(_("montant"), **MONEY)
    currency = models.CharField(_("devise"), max_length=3)
    refunded_on = models.DateField(_("remboursé le"))
    payee_iban = models.CharField(_("IBAN du bénéficiaire"), max_length=34, blank=True)
    reference = models.CharField(_("référence du virement"), max_length=140, blank=True)
    reason = models.TextField(_("raison"))
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("enregistré par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)

    class Meta:
        verbose_name = _("remboursement")
        verbose_name_plural = _("remboursements")
        ordering = ["-refunded_on", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_positive")]

    def __str__(self):
        return f"{self.refunded_on} {self.amount} {self.currency}"


class Payment(Record):
    class Method(models.TextChoices):
        TRANSFER = "transfer", _("Virement")
        DIRECT_DEBIT = "direct_debit", _("Prélèvement")
        OTHER = "other", _("Autre")

    class Source(models.TextChoices):
        SUPPORT = "support", _("Saisi par le support")
        STATEMENT = "statement", _("Relevé bancaire")
        # Money an invoice received before payments were recorded (paid by a tick, no
        # record), the part of it a credit note gives back to the account's credit.
        EARLIER = "earlier", _("Reçu avant l'enregistrement des paiements")

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.PROTECT,
        related_name="payments",
    )
    amount = models.DecimalField(_("montant"), **MONEY)
    currency = models.CharField(_("devise"), max_length=3)
    received_on = models.DateField(_("date du paiement"))
    method = models.CharField(_("moyen"), max_length=15, choices=Method.choices)
    payer_name = models.CharField(_("payeur"), max_length=140, blank=True)
    payer_iban = models.CharField(_("IBAN du payeur"), max_length=34, blank=True, db_index=True)
    bank_reference = models.CharField(_("référence bancaire"), max_length=140, blank=True)
    note = models.TextField(_("note"), blank=True)
    source = models.CharField(_("origine"), max_length=10, choices=Source.choices)
    bank_entry = models.OneToOneField(
        BankEntry,
        verbose_name=_("écriture bancaire"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment",
    )
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("enregistré par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)

    class Meta:
        verbose_name = _("paiement")
        verbose_name_plural = _("paiements")
        ordering = ["-received_on", "-pk"]
        indexes = [
            models.Index(fields=["organisation", "currency", "received_on"], name="payment_account")
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive")]

    def __str__(self):
        return f"{self.received_on} {self.amount} {self.currency}"


class Allocation(Record):
    """Part of a payment sent to an invoice, or to a refund. Active until reversed."""

    payment = models.ForeignKey(
        Payment, verbose_name=_("paiement"), on_delete=models.PROTECT, related_name="allocations"
    )
    invoice = models.ForeignKey(
        "invoices.Invoice",
        verbose_name=_("facture"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocations",
    )
    refund = models.ForeignKey(
        Refund,
        verbose_name=_("remboursement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="allocations",
    )
    amount = models.DecimalField(_("montant"), **MONEY)
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("imputé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("imputation")
        verbose_name_plural = _("imputations")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_positive"),
            models.CheckConstraint(
                condition=Q(invoice__isnull=False, refund__isnull=True)
                | Q(invoice__isnull=True, refund__isnull=False),
                name="allocation_one_target",
            ),
        ]

    def __str__(self):
        return f"{self.amount} → {self.invoice or self.refund}"


class AllocationReversal(Record):
    """An allocation undone: its amount is back in the account's credit balance."""

    allocation = models.OneToOneField(
        Allocation,
        verbose_name=_("imputation"),
        on_delete=models.PROTECT,
        related_name="reversal",
    )
    reason = models.TextField(_("raison"))
    # The credit note that gave the money back to the account's credit, when one did
    # (payments.services.credit_return); empty for an allocation support undid.
    credit_note = models.ForeignKey(
        "invoices.Invoice",
        verbose_name=_("avoir"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("annulée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("annulation d'imputation")
        verbose_name_plural = _("annulations d'imputation")

    def __str__(self):
        return f"− {self.allocation}"


class Mandate(models.Model):
    """A SEPA direct-debit mandate: the owner's authorisation to collect the account's
    invoices from a bank account, under one unique reference (UMR) for its whole life.

    Signed in the portal (pending), it becomes active when the owner confirms it from the
    emailed link; revoked the same way, or suspended after too many returns. When the owner
    changes the bank account of an active mandate, the reference stays and the previous
    account is kept in `amended_from_*` until the next collection carries the amendment to
    the bank (pain.008 AmdmntInd); the collection export clears it.
    """

    class Scheme(models.TextChoices):
        CORE = "CORE", _("SEPA Core")
        B2B = "B2B", _("SEPA B2B (interentreprises)")

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente de confirmation")
        ACTIVE = "active", _("Actif")
        SUSPENDED = "suspended", _("Suspendu après des rejets")
        REVOKED = "revoked", _("Révoqué")
        ABANDONED = "abandoned", _("Jamais confirmé")

    LIVE = (Status.ACTIVE, Status.SUSPENDED)

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.PROTECT,
        related_name="mandates",
    )
    reference = models.CharField(_("référence unique du mandat"), max_length=35, unique=True)
    scheme = models.CharField(_("schéma"), max_length=4, choices=Scheme.choices)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices)
    holder_name = models.CharField(_("titulaire du compte"), max_length=70)
    holder_address = models.TextField(_("adresse du titulaire"))
    holder_country = models.CharField(_("pays du titulaire"), max_length=2)
    iban = models.CharField(_("IBAN"), max_length=34)
    bic = models.CharField(_("BIC"), max_length=11, blank=True)
    amended_from_iban = models.CharField(_("IBAN précédent"), max_length=34, blank=True)
    amended_from_bic = models.CharField(_("BIC précédent"), max_length=11, blank=True)
    signed_place = models.CharField(_("lieu de signature"), max_length=70)
    signed_on = models.DateField(_("date de signature"), null=True, blank=True)
    signed_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("signé par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    language = models.CharField(_("langue du mandat"), max_length=8)
    pdf_name = models.CharField(_("PDF du mandat signé"), max_length=255, blank=True)
    pdf_sha256 = models.CharField(_("SHA-256 du PDF"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("demandé le"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmé le"), null=True, blank=True)
    ended_at = models.DateTimeField(_("fin le"), null=True, blank=True)
    end_reason = models.TextField(_("motif de fin"), blank=True)

    class Meta:
        verbose_name = _("mandat de prélèvement SEPA")
        verbose_name_plural = _("mandats de prélèvement SEPA")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One mandate in force (active or suspended) per account.
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(status__in=["active", "suspended"]),
                name="mandate_one_live",
            ),
        ]

    def __str__(self):
        return self.reference


class DirectDebitExport(models.Model):
    """One pain.008 file support exported for the seller's bank: the collections of one
    requested collection date and scheme."""

    message_id = models.CharField(_("identifiant du message"), max_length=35, unique=True)
    scheme = models.CharField(_("schéma"), max_length=4, choices=Mandate.Scheme.choices)
    collect_on = models.DateField(_("date de prélèvement"))
    count = models.PositiveIntegerField(_("prélèvements"))
    total = models.DecimalField(_("montant total"), **MONEY)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    xml = models.TextField(_("fichier pain.008"))
    created_by = models.ForeignKey(
        "accounts.User",
        verbose_name=_("exporté par"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("exporté le"), auto_now_add=True)

    class Meta:
        verbose_name = _("fichier de prélèvements (pain.008)")
        verbose_name_plural = _("fichiers de prélèvements (pain.008)")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.message_id


class Collection(models.Model):
    """One invoice to be collected under a mandate on a date.

    planned → notified (pre-notification emailed) → exported (in a pain.008 file) → paid
    (the statement booked it: `payment`) or returned (the bank returned or refused it:
    `return_reason`). Cancelled when the invoice is paid otherwise or the mandate ends
    before export. The end-to-end id travels to the bank and back in its statements.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", _("Prévu")
        NOTIFIED = "notified", _("Pré-notifié")
        EXPORTED = "exported", _("Transmis à la banque")
        PAID = "paid", _("Encaissé")
        RETURNED = "returned", _("Rejeté")
        CANCELLED = "cancelled", _("Annulé")

    OPEN = (Status.PLANNED, Status.NOTIFIED, Status.EXPORTED)

    class Sequence(models.TextChoices):
        FIRST = "FRST", _("Premier")
        RECURRING = "RCUR", _("Récurrent")

    invoice = models.ForeignKey(
        "invoices.Invoice",
        verbose_name=_("facture"),
        on_delete=models.PROTECT,
        related_name="collections",
    )
    mandate = models.ForeignKey(
        Mandate, verbose_name=_("mandat"), on_delete=models.PROTECT, related_name="collections"
    )
    amount = models.DecimalField(_("montant"), **MONEY)
    currency = models.CharField(_("devise"), max_length=3, default="EUR")
    collect_on = models.DateField(_("date de prélèvement"))
    end_to_end_id = models.CharField(_("référence de bout en bout"), max_length=35, unique=True)
    sequence_type = models.CharField(
        _("séquence"), max_length=4, choices=Sequence.choices, blank=True
    )
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices)
    notified_at = models.DateTimeField(_("pré-notifié le"), null=True, blank=True)
    export = models.ForeignKey(
        DirectDebitExport,
        verbose_name=_("fichier"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collections",
    )
    payment = models.OneToOneField(
        Payment,
        verbose_name=_("paiement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collection",
    )
    return_reason = models.CharField(_("motif du rejet"), max_length=4, blank=True)
    returned_on = models.DateField(_("rejeté le"), null=True, blank=True)
    # The statement's debit that took it back (payments.services.collection_return).
    return_entry = models.OneToOneField(
        BankEntry,
        verbose_name=_("écriture du rejet"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="returned_collection",
    )
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)

    class Meta:
        verbose_name = _("prélèvement")
        verbose_name_plural = _("prélèvements")
        ordering = ["collect_on", "pk"]
        indexes = [models.Index(fields=["status", "collect_on"], name="collection_due")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="collection_positive"),
            # An invoice is collected once at a time.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status__in=["planned", "notified", "exported"]),
                name="collection_one_open",
            ),
        ]

    def __str__(self):
        return f"{self.end_to_end_id} {self.amount} {self.currency}"


class Reminder(Record):
    """A payment reminder sent for an invoice at one stage: a number of days from its due
    date (settings.PAYMENT_REMINDER_OFFSETS, negative before it). One per invoice and stage,
    held by the database, so a run repeated or run twice at once sends each reminder once
    (payments.services.reminders). What it said is kept: the amounts the email stated."""

    organisation = models.ForeignKey(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    invoice = models.ForeignKey(
        "invoices.Invoice",
        verbose_name=_("facture"),
        on_delete=models.PROTECT,
        related_name="payment_reminders",
    )
    stage = models.SmallIntegerField(_("étape (jours après l'échéance)"))
    sent_on = models.DateField(_("envoyée le"))
    amount_due = models.DecimalField(_("reste à payer"), **MONEY)
    currency = models.CharField(_("devise"), max_length=3)
    penalty_rate = models.DecimalField(
        _("taux des pénalités (% par an)"), max_digits=6, decimal_places=3
    )
    penalty = models.DecimalField(_("pénalités de retard"), **MONEY)
    indemnity = models.DecimalField(_("indemnité forfaitaire (EUR)"), **MONEY)
    recipients = models.PositiveSmallIntegerField(_("destinataires"))
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    class Meta:
        verbose_name = _("relance de paiement")
        verbose_name_plural = _("relances de paiement")
        ordering = ["-sent_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "stage"], name="reminder_once_per_stage"),
        ]

    def __str__(self):
        return f"{self.invoice_id} @ {self.stage:+d}"


class ReminderPause(models.Model):
    """Support paused the payment reminders of an account (a dispute, a payment plan agreed
    on the phone): none is sent while the row exists. Resuming deletes it; both are in the
    audit trail with their reason (payments.services.reminders_pause / reminders_resume)."""

    organisation = models.OneToOneField(
        "accounts.Organisation",
        verbose_name=_("compte client"),
        on_delete=models.CASCADE,
        related_name="reminder_pause",
    )
    reason = models.TextField(_("raison"))
    actor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("par"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("suspendues le"), auto_now_add=True)

    class Meta:
        verbose_name = _("suspension des relances")
        verbose_name_plural = _("suspensions des relances")

    def __str__(self):
        return str(self.organisation_id)
