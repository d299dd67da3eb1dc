"""What the apps above accounts do when something happens to an account.

accounts sits below subscriptions and support and must not import them. An app that must act
on an accounts event registers a handler here from its AppConfig.ready(); the accounts
service calls every handler inside its own transaction, so their writes commit or roll back
with the change. An explicit list, not a signal: a reader of the service sees the call.
"""

from collections.abc import Callable

# handler(*, organisation, former_owner, actor): the account's owner has just changed.
ownership_transferred: list[Callable[..., None]] = []


def on_ownership_transferred(handler: Callable[..., None]) -> Callable[..., None]:
    if handler not in ownership_transferred:
        ownership_transferred.append(handler)
    return handler
