"""The performance benchmark (`make bench`): seeds a large PostgreSQL data set, serves the
app with gunicorn, drives it with wrk and writes docs/performance.md and its chart.

Not part of the app and never imported by it: `bench.settings` and `bench.urls` exist only
for the gunicorn the benchmark starts.
"""
