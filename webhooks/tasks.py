import logging

from celery import shared_task

from . import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def webhook_send_task(delivery_id: int) -> bool:
    # No task retries: a failed attempt sets next_attempt_at and the sweep retries it.
    return services.webhook_send(delivery_id=delivery_id)


@shared_task(acks_late=True)
def webhook_send_batch_task(delivery_ids: list[int]) -> int:
    """The deliveries one change wrote, fanned out to one task each."""
    handed = 0
    for pk in delivery_ids:
        try:
            webhook_send_task.apply_async(args=(pk,))
        except Exception:  # noqa: BLE001 - the sweep sends what was not handed on
            logger.warning("webhook delivery %s not handed on; the sweep will send it", pk)
            continue
        handed += 1
    return handed


@shared_task
def webhook_sweep() -> int:
    """Send the deliveries that are due (a retry's wait is over, or the broker lost them)."""
    ids = services.pending_delivery_ids()
    for pk in ids:
        try:
            services.webhook_send(delivery_id=pk)
        except Exception:  # noqa: BLE001, S112 - the next sweep retries
            continue
    return len(ids)
