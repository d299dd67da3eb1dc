"""Two identical POSTs in flight with one Idempotency-Key: exactly one runs."""

import threading

import pytest
from django.db import connection
from django.test import Client

from accounts.models import Organisation

from .conftest import account_body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_in_flight_run_once(key_a, plans):
    barrier = threading.Barrier(2)
    statuses = []

    def post():
        try:
            barrier.wait()
            response = Client().post(
                "/api/v1/accounts",
                account_body(),
                content_type="application/json",
                headers={"Authorization": f"Bearer {key_a}", "Idempotency-Key": "same"},
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One created it; the other was told it is in progress, or got the replay.
    assert sorted(statuses) in ([201, 409], [201, 201])
    assert Organisation.objects.count() == 1
