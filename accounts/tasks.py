"""Periodic work on accounts. Thin: call the module that does it."""

from celery import shared_task

from . import ratelimit


@shared_task
def ratelimit_purge_run() -> int:
    return ratelimit.ratelimit_purge()
