"""Webhooks to the host: received by a real HTTP server, signatures verified as the
Standard Webhooks specification says."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks import services, tasks
from webhooks.models import WebhookDelivery, WebhookEvent


def _emit(django_capture_on_commit_callbacks, event_type="invoice.paid", payload=None):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            return services.webhook_emit(event_type, payload or {"invoice": "FA-2026-0001"})


def test_event_is_received_after_commit_and_its_signature_verifies(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    event = _emit(django_capture_on_commit_callbacks)

    assert len(receiver.received) == 1
    request = receiver.received[0]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["webhook-id"] == event.msg_id and event.msg_id.startswith("msg_")
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "invoice.paid"
    assert payload["data"] == {"invoice": "FA-2026-0001"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.SENT
    assert delivery.last_status_code == 200 and delivery.attempts == 1


def test_a_wrong_secret_does_not_verify(receiver, endpoint, django_capture_on_commit_callbacks):
    _emit(django_capture_on_commit_callbacks)
    request = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(services.new_secret()).verify(request["body"], request["headers"])
    tampered = request["body"].replace(b"FA-2026-0001", b"FA-2026-0002")
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(tampered, request["headers"])


def test_nothing_is_written_or_sent_when_the_change_rolls_back(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            services.webhook_emit("invoice.paid", {"invoice": "FA-1"})
            raise Boom

    assert callbacks == []
    assert receiver.received == []
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_failed_delivery_is_retried_with_backoff_and_keeps_its_id_and_payload(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.answers = [500, 503]
    event = _emit(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 500 and delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at > timezone.now()

    # Not due yet: the sweep leaves it alone.
    assert tasks.webhook_sweep() == 0
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.webhook_sweep() == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 2
    # The wait grows: the second failure waits longer than the first.
    assert delivery.next_attempt_at > timezone.now() + timedelta(minutes=4)

    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    tasks.webhook_sweep()
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SENT and delivery.attempts == 3

    assert len(receiver.received) == 3
    assert {r["headers"]["webhook-id"] for r in receiver.received} == {event.msg_id}
    assert len({r["body"] for r in receiver.received}) == 1
    # A sent delivery is not sent again by the sweep.
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.webhook_sweep() == 0


def test_retries_span_at_least_a_day_then_the_delivery_fails():
    assert sum(services.RETRY_DELAYS, timedelta()) >= timedelta(hours=24)
    assert services.RETRY_DELAYS == sorted(services.RETRY_DELAYS)


def test_a_host_down_for_good_ends_failed(receiver, endpoint, django_capture_on_commit_callbacks):
    receiver.answers = [500] * services.MAX_ATTEMPTS
    _emit(django_capture_on_commit_callbacks)
    for _ in range(services.MAX_ATTEMPTS - 1):
        WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
        tasks.webhook_sweep()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == services.MAX_ATTEMPTS
    assert len(receiver.received) == services.MAX_ATTEMPTS


def test_a_redirect_is_not_followed(receiver, endpoint, django_capture_on_commit_callbacks):
    receiver.answers = [302]
    _emit(django_capture_on_commit_callbacks)
    assert len(receiver.received) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code == 302


def test_an_unreachable_host_is_recorded_and_retried(db, django_capture_on_commit_callbacks):
    services.endpoint_create(url="http://127.0.0.1:9/hooks/")
    _emit(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.last_status_code is None and delivery.last_error
    assert delivery.next_attempt_at is not None


def test_rotation_signs_with_both_secrets(receiver, endpoint, django_capture_on_commit_callbacks):
    old_secret = endpoint.secret
    rotated = services.endpoint_rotate_secret(endpoint_id=endpoint.pk)
    assert rotated.secret != old_secret and rotated.previous_secret == old_secret

    _emit(django_capture_on_commit_callbacks)
    request = receiver.received[0]
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request["body"], request["headers"])
    Webhook(rotated.secret).verify(request["body"], request["headers"])

    # Once the overlap is over, only the new secret signs.
    type(rotated).objects.filter(pk=rotated.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    _emit(django_capture_on_commit_callbacks)
    request = receiver.received[1]
    Webhook(rotated.secret).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(request["body"], request["headers"])


def test_replay_sends_the_same_event_again(receiver, endpoint, django_capture_on_commit_callbacks):
    event = _emit(django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_replay(delivery_id=delivery.pk)
    assert len(receiver.received) == 2
    assert receiver.received[0]["body"] == receiver.received[1]["body"]
    assert receiver.received[1]["headers"]["webhook-id"] == event.msg_id


def test_endpoints_receive_only_their_event_types_and_disabled_ones_nothing(
    db, receiver, django_capture_on_commit_callbacks
):
    services.endpoint_create(url=receiver.url, event_types=["payment.recorded"])
    off = services.endpoint_create(url=receiver.url)
    off.enabled = False
    off.save()
    _emit(django_capture_on_commit_callbacks, "invoice.paid")
    _emit(django_capture_on_commit_callbacks, "payment.recorded", {"payment": 1})
    assert [p["type"] for p in receiver.payloads()] == ["payment.recorded"]
    assert WebhookEvent.objects.count() == 2


def test_an_unknown_event_type_is_refused(db):
    with pytest.raises(ValueError):
        services.webhook_emit("invoice.lost", {})
    assert not WebhookEvent.objects.exists()


def test_events_emitted_in_bulk_have_one_id_each(
    receiver, endpoint, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        events = services.webhook_emit_many(
            [("payment.recorded", {"payment": n}) for n in range(3)]
        )
    assert len({e.msg_id for e in events}) == 3
    assert sorted(p["data"]["payment"] for p in receiver.payloads()) == [0, 1, 2]
