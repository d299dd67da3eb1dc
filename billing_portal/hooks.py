"""Explicit registries through which a lower app makes a higher one act.

The apps form layers (docs/architecture.md): each imports only from the layers below it.
When a lower app must make a higher one act (an account anonymised, an email attachment
to render), the lower app declares a `Hook` in its `hooks.py`, the higher app registers a
handler from its `AppConfig.ready()`, and the lower app's code calls the hook where a reader
sees it. Not Django signals: the call and the list of handlers are explicit, and handlers
run in the caller's transaction.
"""

from collections.abc import Callable


class Hook:
    """A named list of handlers, each called with the same keyword arguments."""

    def __init__(self, name: str, doc: str = ""):
        self.name = name
        self.__doc__ = doc
        self.handlers: list[Callable[..., object]] = []

    def register(self, handler: Callable[..., object]) -> Callable[..., object]:
        """Add `handler` once (ready() may run twice); usable as a decorator."""
        if handler not in self.handlers:
            self.handlers.append(handler)
        return handler

    def __call__(self, **kwargs) -> list:
        """Call every handler in registration order; their results, in that order."""
        return [handler(**kwargs) for handler in self.handlers]

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self.handlers)} handler(s)>"
