"""Support manages the endpoints and replays deliveries from the admin."""

from django.urls import reverse
from standardwebhooks import Webhook

from webhooks import services
from webhooks.models import WebhookDelivery, WebhookEndpoint


def test_support_adds_an_endpoint_with_a_generated_secret(client, support_user, receiver):
    client.force_login(support_user)
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": receiver.url, "description": "Plateforme", "enabled": "on", "event_types": "[]"},
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")


def test_an_unknown_event_type_is_refused_with_a_message(client, support_user):
    client.force_login(support_user)
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"url": "https://platform.example/hooks", "enabled": "on", "event_types": '["x.y"]'},
    )
    assert response.status_code == 200
    assert "invoice.paid" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_support_rotates_a_secret(client, support_user, endpoint):
    old = endpoint.secret
    client.force_login(support_user)
    response = client.post(
        reverse("admin:webhooks_webhookendpoint_changelist"),
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old


def test_support_replays_a_failed_delivery(
    client, support_user, receiver, endpoint, django_capture_on_commit_callbacks
):
    receiver.answers = [500]
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_emit("invoice.paid", {"invoice": "FA-1"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    client.force_login(support_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "replay", "_selected_action": [delivery.pk]},
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SENT
    assert len(receiver.received) == 2
    Webhook(endpoint.secret).verify(receiver.received[1]["body"], receiver.received[1]["headers"])


def test_a_member_cannot_replay(client, owner, endpoint):
    client.force_login(owner.user)
    response = client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
