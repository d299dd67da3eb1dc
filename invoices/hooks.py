"""What the apps above invoices provide to it.

invoices sits below subscriptions and payments and must not import them. The Factures tab
shows what the next renewal will invoice, which subscriptions computes, and the account's
credit balance, which payments keeps; an invoice just issued takes that credit. Each app
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
