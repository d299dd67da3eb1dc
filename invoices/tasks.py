from celery import shared_task

from . import pdf


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=5, max_retries=5)
def invoice_pdf_render_task(invoice_id: int) -> str:
    """Render and store an issued invoice's PDF (a no-op if it already is)."""
    return pdf.invoice_pdf_ensure(invoice_id=invoice_id).pdf_name
