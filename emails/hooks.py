"""What the apps above emails render for it: attachments made when the email is sent.

emails sits below every other app and must not import them. An outbox row may carry an
attachment rendered only at send time (an invoice's PDF, which its task may not have
stored yet when the email is queued); such an attachment names its document by one key,
`{"invoice_id": 42, "filename": "INV-42.pdf", "mimetype": "application/pdf"}`, and the app
that owns the document registers the renderer for that key from its AppConfig.ready()
(invoices: `attachment_renderers.register("invoice_id", invoice_pdf_bytes)`).
"""

from collections.abc import Callable


class MissingAttachmentRenderer(LookupError):
    """No app registered a renderer for an attachment: the email must not go without it."""


class AttachmentRenderers:
    """Renderers keyed by the attachment field that names their document; each is called
    with that field as its one keyword argument (`renderer(invoice_id=42)`) and returns the
    attachment's bytes."""

    def __init__(self):
        self._renderers: dict[str, Callable[..., bytes]] = {}

    def register(self, key: str, renderer: Callable[..., bytes]) -> Callable[..., bytes]:
        """Register `renderer` for `key` (again is a no-op: ready() may run twice)."""
        if self._renderers.setdefault(key, renderer) is not renderer:
            raise ValueError(f"An attachment renderer is already registered for {key!r}.")
        return renderer

    def render(self, attachment: dict) -> bytes:
        """The bytes of `attachment`, rendered by the renderer registered for its key."""
        for key, renderer in self._renderers.items():
            if key in attachment:
                return renderer(**{key: attachment[key]})
        raise MissingAttachmentRenderer(
            f"No renderer registered for the attachment {attachment.get('filename')!r} "
            f"(fields {sorted(attachment)}): the app that renders it is not installed or "
            "did not register it in its AppConfig.ready()."
        )

    def __repr__(self) -> str:
        return f"<AttachmentRenderers {sorted(self._renderers)}>"


attachment_renderers = AttachmentRenderers()
