"""Publishing tasks so that a broker outage never reaches the user."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Publish `task` after the current transaction commits (at once outside one).

    Publishing uses short, bounded retries (CELERY_BROKER_TRANSPORT_OPTIONS). If the broker
    is still unreachable the error is logged and swallowed: the work is recorded in the
    database (an outbox row, an invoice without its PDF yet) and a periodic sweep or the
    next reader picks it up, so the user's request succeeds regardless.
    """

    def publish():
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            logger.warning(
                "could not run or publish task %s now; it will be retried later",
                task.name,
                exc_info=True,
            )

    transaction.on_commit(publish)
