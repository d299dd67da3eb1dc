from celery import shared_task

from . import services


@shared_task
def idempotency_purge_run():
    """Forget the idempotency keys older than 24 hours (every hour)."""
    return services.idempotency_purge()
