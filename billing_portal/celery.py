import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")

# DjangoTask gives every task delay_on_commit(), so a worker never sees uncommitted rows.
app = Celery("billing_portal", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
