"""What the apps above accounts do when something happens to an account.

accounts sits below invoices, subscriptions and support and must not import them. An app
that must act on an accounts event registers a handler here from its AppConfig.ready(); the
accounts code calls every handler inside its own transaction, so their writes commit or roll
back with the change (billing_portal.hooks).
"""

from billing_portal.hooks import Hook

ownership_transferred = Hook(
    "ownership_transferred",
    "handler(*, organisation, former_owner, actor): the account's owner has just changed.",
)

audit_plan_names = Hook(
    "audit_plan_names",
    "handler() -> {code: name}: the names, in the active language, of the plans the audit "
    "trail stores by code (the Contacts tab's recent activity shows names).",
)
