"""Every write of the api app: clients and keys (from the admin), the link of an account to
the client that created it, and the idempotency records of POST requests."""

from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit_record
from accounts.models import Organisation, User
from accounts.services import machine_user_create

from .keys import key_hash, new_key
from .models import SCOPES, ApiClient, ApiKey, ClientAccount, IdempotencyRecord

IDEMPOTENCY_TTL = timedelta(hours=24)
# A request still running after this long is taken for lost (its worker died): the key may
# run again.
IDEMPOTENCY_ABANDONED = timedelta(minutes=5)
# last_used_at is written at most once a minute per key, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def client_create(*, name: str, description: str = "", actor: User, ip=None) -> ApiClient:
    """A new API client and the user that names it in the audit trail."""
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ValidationError({"name": _("Indiquez un nom de 100 caractères au plus.")})
    if ApiClient.objects.filter(name=name).exists():
        raise ValidationError({"name": _("Un client de l'API porte déjà ce nom.")})
    client = ApiClient.objects.create(
        name=name, description=description, user=machine_user_create(label=name)
    )
    audit_record(
        organisation=None,
        action="api_client.created",
        actor=actor,
        support=True,
        after={"name": name},
        ip=ip,
    )
    return client


@transaction.atomic
def client_update(*, client: ApiClient, description: str, actor: User, ip=None) -> ApiClient:
    client = ApiClient.objects.select_for_update().get(pk=client.pk)
    if client.description != description:
        before = {"description": client.description}
        client.description = description
        client.save(update_fields=["description"])
        audit_record(
            organisation=None,
            action="api_client.changed",
            actor=actor,
            support=True,
            before=before,
            after={"name": client.name, "description": description},
            ip=ip,
        )
    return client


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the whole key: shown once, never stored


@transaction.atomic
def key_create(
    *, client: ApiClient, name: str, scopes: list[str], actor: User, ip=None
) -> IssuedKey:
    """A new key for `client`; the returned secret is shown once and never again."""
    name = " ".join((name or "").split())
    errors = {}
    if not name or len(name) > 100:
        errors["name"] = _("Indiquez un nom de 100 caractères au plus.")
    if not scopes or any(scope not in SCOPES for scope in scopes):
        errors["scopes"] = _("Choisissez au moins un droit dans la liste.")
    if errors:
        raise ValidationError(errors)
    prefix, secret = new_key()
    key = ApiKey.objects.create(
        client=client,
        name=name,
        prefix=prefix,
        secret_hash=key_hash(secret),
        scopes=sorted(set(scopes)),
    )
    audit_record(
        organisation=None,
        action="api_key.created",
        actor=actor,
        support=True,
        after={"client": client.name, "name": name, "prefix": prefix, "scopes": key.scopes},
        ip=ip,
    )
    return IssuedKey(key=key, secret=secret)


@transaction.atomic
def keys_revoke(*, key_ids, actor: User, ip=None) -> int:
    """Revoke these keys now: the next request with one of them is a 401."""
    keys = list(
        ApiKey.objects.select_for_update()
        .select_related("client")
        .filter(pk__in=key_ids, revoked_at__isnull=True)
    )
    now = timezone.now()
    for key in keys:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
        audit_record(
            organisation=None,
            action="api_key.revoked",
            actor=actor,
            support=True,
            after={"client": key.client.name, "name": key.name, "prefix": key.prefix},
            ip=ip,
        )
    return len(keys)


def key_touch(*, key: ApiKey) -> None:
    """Note that the key was used (at most once a minute: a single conditional UPDATE)."""
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


def _clean_external_id(value) -> str:
    external_id = (value or "").strip()
    if len(external_id) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in external_id):
        raise ValidationError(
            {"external_id": _("100 caractères au plus, sans caractère de contrôle.")}
        )
    return external_id


@transaction.atomic
def client_account_link(
    *, client: ApiClient, organisation: Organisation, external_id: str = ""
) -> ClientAccount:
    """Record that `client` created `organisation` (inside the creation's transaction)."""
    external_id = _clean_external_id(external_id)
    if (
        ClientAccount.objects.filter(client=client, external_id=external_id)
        .exclude(external_id="")
        .exists()
    ):
        raise ValidationError(
            {
                "external_id": ValidationError(
                    _("Un autre compte porte déjà cet identifiant."), code="conflict"
                )
            }
        )
    return ClientAccount.objects.create(
        client=client, organisation=organisation, external_id=external_id
    )


@transaction.atomic
def client_account_update(*, link: ClientAccount, external_id: str) -> ClientAccount:
    external_id = _clean_external_id(external_id)
    if external_id == link.external_id:
        return link
    if (
        external_id
        and ClientAccount.objects.filter(client=link.client_id, external_id=external_id).exists()
    ):
        raise ValidationError(
            {
                "external_id": ValidationError(
                    _("Un autre compte porte déjà cet identifiant."), code="conflict"
                )
            }
        )
    link.external_id = external_id
    link.save(update_fields=["external_id"])
    return link


# --- Idempotency keys ------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What to do with a POST and its Idempotency-Key: "run" it (record is ours to
    complete), "replay" the record's answer, or refuse: "mismatch" (the key came with
    another request), "in_progress" (the first one has not answered yet)."""

    outcome: str
    record: IdempotencyRecord | None = None


def idempotency_claim(*, client: ApiClient, key: str, request_hash: str) -> Claim:
    """Take the key for this request, or say why not. The row is inserted and committed at
    once (autocommit), so a second request with the same key, even in flight, finds it:
    the unique constraint lets exactly one of two concurrent inserts win."""
    now = timezone.now()
    with transaction.atomic():
        record = (
            IdempotencyRecord.objects.select_for_update().filter(client=client, key=key).first()
        )
        stale = record is not None and (
            record.expires_at <= now
            or (record.status_code is None and record.started_at <= now - IDEMPOTENCY_ABANDONED)
        )
        if record is not None and not stale:
            if record.request_hash != request_hash:
                return Claim("mismatch", record)
            if record.status_code is None:
                return Claim("in_progress", record)
            return Claim("replay", record)
        if stale:
            record.delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    client=client,
                    key=key,
                    request_hash=request_hash,
                    started_at=now,
                    expires_at=now + IDEMPOTENCY_TTL,
                )
        except IntegrityError:
            # Another request inserted it between our read and our insert.
            return Claim("in_progress")
    return Claim("run", record)


def idempotency_complete(
    *, record: IdempotencyRecord, status_code: int, content_type: str, body: bytes, location=""
) -> None:
    """Keep the answer, to replay it; a server error is not kept (the key may run again)."""
    if status_code >= 500:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        return
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status_code, content_type=content_type, body=body, location=location
    )


def idempotency_purge(*, now=None) -> int:
    """Forget the keys whose 24 hours are over (a periodic task)."""
    deleted, _by_model = IdempotencyRecord.objects.filter(
        expires_at__lte=now or timezone.now()
    ).delete()
    return deleted
