"""Webhooks to the host, with the outbox discipline of the emails (docs/integration.md).

`webhook_emit` writes the event and one delivery row per interested endpoint in the
caller's transaction; the send is published after commit, and the periodic sweep retries
what failed on the schedule of `RETRY_DELAYS` (about 28 hours in all) or what the broker
never received. Each event has one id (`msg_…`) and one payload: a retry or a replay
sends the same bytes under the same id, so the host can deduplicate on webhook-id.
"""

import base64
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from standardwebhooks import Webhook

from billing_portal.bulk import rows_insert
from billing_portal.queue import enqueue_on_commit

from .models import EVENT_TYPES, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)


# Wait after the n-th failed attempt: the last attempt comes about 28 hours after the first.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT_SECONDS = 10
# How long the previous secret keeps signing after a rotation.
ROTATION_OVERLAP = timedelta(hours=24)

SEND_TASK = "webhooks.tasks.webhook_send_task"
SEND_BATCH_TASK = "webhooks.tasks.webhook_send_batch_task"


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _msg_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _body(event: WebhookEvent) -> str:
    """The bytes sent for an event: the same for every attempt and every endpoint."""
    return json.dumps(
        {
            "type": event.type,
            "timestamp": event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": event.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def account_data(organisation) -> dict:
    """How every payload names the account (an Organisation; not imported: lower layer)."""
    return {"id": organisation.pk, "name": organisation.name}


def webhook_emit(event_type: str, payload: dict) -> WebhookEvent:
    """Record one event (in the caller's transaction) and send it after commit."""
    return webhook_emit_many([(event_type, payload)])[0]


def webhook_emit_many(events: Iterable[tuple[str, dict]]) -> list[WebhookEvent]:
    """Record several events with one insert each for events and deliveries."""
    rows = []
    for event_type, payload in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"Unknown webhook event type {event_type!r}")
        # Through the encoder once, so that dates and decimals are stored as sent.
        data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
        rows.append(WebhookEvent(msg_id=_msg_id(), type=event_type, payload=data))
    if not rows:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(enabled=True))
    rows = rows_insert(WebhookEvent, rows)
    deliveries = rows_insert(
        WebhookDelivery,
        [
            WebhookDelivery(event=event, endpoint=endpoint)
            for event in rows
            for endpoint in endpoints
            if endpoint.wants(event.type)
        ],
    )
    if deliveries:
        enqueue_on_commit(SEND_BATCH_TASK, [row.pk for row in deliveries])
    return rows


def signature_header(endpoint: WebhookEndpoint, msg_id: str, when: datetime, body: str) -> str:
    """The webhook-signature value: the current secret's, and the previous one's during a
    rotation (space-separated, as the Standard Webhooks specification says)."""
    secrets_ = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_expires_at is None
        or endpoint.previous_secret_expires_at > timezone.now()
    ):
        secrets_.append(endpoint.previous_secret)
    return " ".join(Webhook(s).sign(msg_id=msg_id, timestamp=when, data=body) for s in secrets_)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _post(endpoint: WebhookEndpoint, event: WebhookEvent) -> int:
    """POST the event; its HTTP status (a redirect is not followed and counts as a failure)."""
    if not endpoint.url.startswith(("https://", "http://")):
        raise ValueError("A webhook URL is http(s) only.")
    body = _body(event)
    when = datetime.now(UTC)
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        endpoint.url,
        data=body.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Palmares-Webhooks/1",
            "webhook-id": event.msg_id,
            "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature_header(endpoint, event.msg_id, when, body),
        },
    )
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def webhook_send(*, delivery_id: int) -> bool:
    """Send one pending delivery. True when the host accepted it (a 2xx answer) now.

    The attempt is counted and committed before the request, as for the emails: a worker
    that dies during the request has still used it.
    """
    counted = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING
    ).update(attempts=F("attempts") + 1)
    if not counted:
        return False
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
            return False
        code, error = None, ""
        if not delivery.endpoint.enabled:
            error = "endpoint disabled"
        else:
            try:
                code = _post(delivery.endpoint, delivery.event)
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
                error = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                if not 200 <= code < 300:
                    error = f"HTTP {code}"
        delivery.last_status_code = code
        delivery.last_error = error
        if not error:
            delivery.status = WebhookDelivery.Status.SENT
            delivery.sent_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = timezone.now() + RETRY_DELAYS[delivery.attempts - 1]
        delivery.save(
            update_fields=["last_status_code", "last_error", "status", "sent_at", "next_attempt_at"]
        )
        if error:
            logger.warning(
                "webhook delivery %s not accepted (attempt %s): %s",
                delivery.pk,
                delivery.attempts,
                error,
            )
        return not error


def webhook_replay(*, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (support, from the admin): same id, same payload."""
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
        enqueue_on_commit(SEND_TASK, delivery.pk)
    return delivery


def endpoint_save(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Save an endpoint as support wrote it; a new one gets its secret here."""
    if not endpoint.secret:
        endpoint.secret = new_secret()
    endpoint.save()
    return endpoint


def endpoint_create(*, url: str, event_types: list[str] | None = None, description: str = ""):
    return endpoint_save(
        endpoint=WebhookEndpoint(url=url, event_types=event_types or [], description=description)
    )


def endpoints_disable(*, endpoint_ids) -> int:
    """Stop sending to these endpoints (their pending deliveries fail as "endpoint disabled")."""
    return WebhookEndpoint.objects.filter(pk__in=endpoint_ids).update(enabled=False)


def endpoint_rotate_secret(*, endpoint_id: int) -> WebhookEndpoint:
    """A new secret; the old one keeps signing alongside it for ROTATION_OVERLAP."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_OVERLAP
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def pending_delivery_ids(*, older_than: timedelta = timedelta(minutes=1)) -> list[int]:
    """Deliveries due: failed ones whose wait is over, and fresh ones the broker lost."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING)
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, created_at__lt=now - older_than)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )
