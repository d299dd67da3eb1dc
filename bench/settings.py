"""The production settings, plus what only the benchmark's server needs.

gunicorn runs with DJANGO_SETTINGS_MODULE=bench.settings: the URLconf gains the baseline
view (never mounted by billing_portal.urls, so never exposed in production) and static
files are collected into the benchmark's temporary directory instead of the checkout.
"""

import os

from billing_portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
