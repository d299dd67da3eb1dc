import logging
from smtplib import SMTPException

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(SMTPException, OSError),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=services.TASK_RETRIES,
)
def email_send_task(self, email_id: int) -> bool:
    return services.email_send(email_id=email_id)


@shared_task(acks_late=True)
def email_send_batch_task(email_ids: list[int]) -> int:
    """The emails one change queued, published as one message by the web request; the
    worker fans them out to one task each, so every email keeps its own retries."""
    handed = 0
    for pk in email_ids:
        try:
            email_send_task.apply_async(args=(pk,))
        except Exception:  # noqa: BLE001 - one email's failure must not hold back the others
            logger.warning("email %s not handed on; the sweep will send it", pk, exc_info=True)
            continue
        handed += 1
    return handed


@shared_task
def email_sweep() -> int:
    """Send the emails still pending (broker down when they were queued, worker lost)."""
    ids = services.pending_email_ids()
    for pk in ids:
        try:
            services.email_send(email_id=pk)
        except Exception:  # noqa: BLE001, S112 - the row keeps its error; the next sweep retries
            continue
    return len(ids)
