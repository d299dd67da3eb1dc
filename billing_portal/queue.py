"""Publishing tasks so that a broker outage, or a broker that stalls, never reaches the user.

A web request hands work to the broker within a total budget (`PUBLISH_BUDGET_SECONDS`,
set per request by `PublishBudgetMiddleware`), whatever the number of tasks it publishes:

- each publish runs in a short-lived thread the request waits for only until the budget
  is spent, so a broker that accepts connections but never answers costs the request the
  budget once, not a socket timeout per task;
- the first publish that fails or overruns opens a breaker for the whole process
  (`PUBLISH_BACKOFF_SECONDS` seconds): the requests that follow do not even try.

Whatever is not published is not lost: the work is recorded in the database first (an
outbox row, an invoice without its PDF yet) and the periodic sweep, or the next reader,
picks it up. Outside a request (a worker, a management command) there is no budget: a
publish is bounded by the broker's socket timeouts only.
"""

import contextvars
import logging
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Monotonic time until which this process does not publish (the broker just failed).
_skip_until = 0.0
# Monotonic deadline of the current request's publishing budget; None outside a request.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "publish_deadline", default=None
)


@contextmanager
def publish_budget(seconds: float):
    """Everything published inside the block shares `seconds` of waiting on the broker."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def breaker_reset() -> None:
    """Forget a past broker failure (tests; an operator after fixing the broker)."""
    global _skip_until
    _skip_until = 0.0


def _trip(task, reason: str) -> None:
    global _skip_until
    _skip_until = time.monotonic() + settings.PUBLISH_BACKOFF_SECONDS
    logger.warning(
        "could not publish task %s (%s); the periodic sweep will pick the work up",
        task.name,
        reason,
    )


def registered_task(task):
    """`task` itself, or the task registered under that name.

    By name for a module its own tasks module imports (emails.services, which
    emails.tasks calls): it publishes without importing its tasks, so no import loop."""
    if not isinstance(task, str):
        return task
    from .celery import app

    if task not in app.tasks:
        # The web process imports a tasks module only when something needs it; the worker
        # imports them all (autodiscovery), and so does this, once.
        app.autodiscover_tasks(force=True)
    return app.tasks[task]


def publish(task, *args, **kwargs) -> bool:
    """Publish `task` (a task or its registered name) now, within the budget. Returns True
    when the broker took it."""
    task = registered_task(task)
    if task.app.conf.task_always_eager:
        # No broker (the demo, unit tests): the task runs here, as part of the request;
        # its failure (an SMTP server down) is the task's to retry, not the request's.
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            logger.warning(
                "task %s failed in-process; it will be retried later", task.name, exc_info=True
            )
            return False
        return True
    if time.monotonic() < _skip_until:
        logger.info("broker recently failed: task %s left for the sweep", task.name)
        return False
    deadline = _deadline.get()
    if deadline is None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception as exc:
            _trip(task, f"{type(exc).__name__}: {exc}")
            return False
        return True

    remaining = deadline - time.monotonic()
    if remaining <= 0:
        logger.info("publishing budget spent: task %s left for the sweep", task.name)
        return False
    outcome: dict = {}

    def run():
        try:
            task.apply_async(args=args, kwargs=kwargs)
            outcome["ok"] = True
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=f"publish {task.name}", daemon=True)
    thread.start()
    thread.join(remaining)
    if outcome.get("ok"):
        return True
    # Still waiting on the broker (it will give up at its socket timeout), or it failed.
    error = outcome.get("error")
    _trip(task, f"{type(error).__name__}: {error}" if error else "no answer within budget")
    return False


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Publish `task` (a task or its registered name) after the current transaction commits
    (at once outside one).

    A publish that fails is logged and swallowed: the user's request succeeds regardless.
    An unknown task name raises here, in the caller: a programming error, not an outage.
    """
    task = registered_task(task)
    transaction.on_commit(lambda: publish(task, *args, **kwargs))


class PublishBudgetMiddleware:
    """Gives every request one publishing budget (`PUBLISH_BUDGET_SECONDS` seconds)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with publish_budget(settings.PUBLISH_BUDGET_SECONDS):
            return self.get_response(request)
