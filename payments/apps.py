from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Paiements")

    def ready(self):
        from emails.hooks import attachment_renderers
        from invoices import hooks

        from . import checks  # noqa: F401  (registers the creditor identifier check)
        from .selectors import credit_balances, direct_debit_summary, invoice_collection
        from .services import credit_apply_to_new_invoice, credit_return
        from .services.collections import collection_plan_for_new_invoice
        from .services.reminders import QR_ATTACHMENT, reminder_qr_png

        # The Factures tab shows the account's credit; a new invoice takes it at once; a
        # credit note gives money already paid back to it.
        hooks.credit_balances.register(credit_balances)
        hooks.invoice_issued.register(credit_apply_to_new_invoice)
        hooks.invoice_credited.register(credit_return)
        # Direct debit: an invoice issued under an active mandate is planned for collection
        # (after the credit took its part), and its « Règlement » box says when and from
        # which account; the Factures tab shows the mandate.
        hooks.invoice_issued.register(collection_plan_for_new_invoice)
        hooks.invoice_collection.register(invoice_collection)
        hooks.direct_debit.register(direct_debit_summary)
        # A payment reminder's QR code, {"payment_qr": {...}}, drawn when the email is sent.
        attachment_renderers.register(QR_ATTACHMENT, reminder_qr_png)
