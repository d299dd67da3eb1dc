"""What the apps above invoices provide to it.

invoices sits below subscriptions and payments and must not import them. The Factures tab
shows what the next renewal will invoice, which subscriptions computes, and the account's
credit balance, which payments keeps; an invoice just issued takes that credit, and a credit
note on an invoice already paid gives that money back to it. Each app
registers its function here from its AppConfig.ready() (billing_portal.hooks).
"""

from billing_portal.hooks import Hook

renewal_estimate = Hook(
    "renewal_estimate",
    "handler(*, organisation) -> estimate: what the account's next renewal will invoice "
    "(subscriptions.pricing.renewal_estimate). At most one handler; none means no estimate.",
)

credit_balances = Hook(
    "credit_balances",
    "handler(*, organisation) -> list of (amount, currency): the account's credit balance, "
    "per currency, that its next invoices will use (payments.selectors.credit_balances). "
    "None registered means no credit is shown.",
)

invoice_issued = Hook(
    "invoice_issued",
    "handler(*, invoice, actor) -> None: called by invoice_issue in its transaction, the "
    "account row locked, once the invoice is written (payments.services.credit_apply: the "
    "account's credit balance pays it).",
)

invoice_credited = Hook(
    "invoice_credited",
    "handler(*, invoice, credit_note, amount, reason, actor, by_support, ip) -> None: called "
    "by credit_note_issue in its transaction (the account and the invoice locked), once the "
    "credit note is written, when it credits `amount` (incl. VAT) of money already paid on "
    "`invoice` (payments.services.credit_return: that much of the invoice's payments goes "
    "back to the account's credit balance).",
)

invoice_collection = Hook(
    "invoice_collection",
    "handler(*, invoice) -> dict or None: the planned direct debit of an open invoice "
    "(payments.selectors.invoice_collection: collect_on, masked_iban, mandate, creditor_id), "
    "printed in its « Règlement » box on the page and the PDF instead of the transfer.",
)

direct_debit = Hook(
    "direct_debit",
    "handler(*, organisation) -> dict: the account's SEPA mandates for the « Prélèvement "
    "SEPA » section of the Factures tab (payments.selectors.direct_debit_summary).",
)
