"""API keys: `bpk_<prefix>_<secret>`. The prefix finds the row; only the SHA-256 of the
whole key is stored, compared in constant time. 32 random bytes make a brute force
pointless, so a fast hash is enough (no password stretching)."""

import hashlib
import hmac
import re
import secrets

from .models import ApiKey

KEY_PATTERN = re.compile(r"bpk_([A-Za-z0-9]{12})_[A-Za-z0-9_-]{43}")
_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_key() -> tuple[str, str]:
    """(prefix, whole key) for a new key."""
    prefix = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(12))
    return prefix, f"bpk_{prefix}_{secrets.token_urlsafe(32)}"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_lookup(key: str) -> ApiKey | None:
    """The active key `key` is, with its client; None for anything else (malformed, unknown,
    revoked). Whatever is wrong, the same None: the caller answers one 401."""
    match = KEY_PATTERN.fullmatch(key or "")
    if match is None:
        return None
    row = ApiKey.objects.select_related("client", "client__user").filter(prefix=match[1]).first()
    if row is None or not hmac.compare_digest(row.secret_hash, key_hash(key)):
        return None
    return row if row.is_active else None


def bearer_token(authorization: str) -> str:
    scheme, _sep, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
