"""Errors as RFC 9457 problem details: `application/problem+json` with type, title,
status, detail, instance, and `errors` (by field) for invalid input.

`type` is a stable URN per kind of problem, for programs; `title` and `detail` are for
people, in the request's language (Accept-Language, French by default), like the rest of
the portal."""

import json

from django.http import HttpResponse
from django.utils.translation import gettext as _

CONTENT_TYPE = "application/problem+json"


def _titles():
    return {
        "bad-request": _("Requête invalide"),
        "unauthorized": _("Clé d'API absente, invalide ou révoquée"),
        "forbidden": _("Droit manquant"),
        "not-found": _("Introuvable"),
        "method-not-allowed": _("Méthode non autorisée"),
        "conflict": _("Conflit"),
        "idempotency-mismatch": _("Clé d'idempotence déjà utilisée pour une autre requête"),
        "idempotency-in-progress": _("Requête avec cette clé d'idempotence en cours"),
        "validation": _("Données invalides"),
        "unsupported-media-type": _("Type de contenu non pris en charge"),
        "payload-too-large": _("Requête trop volumineuse"),
        "too-many-requests": _("Trop de requêtes"),
        "server-error": _("Erreur du serveur"),
    }


# The kind of problem a bare HTTP status stands for (a response made outside our handlers).
BY_STATUS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    429: "too-many-requests",
}


def problem(
    request,
    status: int,
    kind: str | None = None,
    detail: str = "",
    errors: dict | None = None,
    headers: dict | None = None,
) -> HttpResponse:
    kind = kind or BY_STATUS.get(status, "server-error" if status >= 500 else "bad-request")
    body = {
        "type": f"urn:billing-portal:problem:{kind}",
        "title": _titles()[kind],
        "status": status,
        "detail": str(detail or _titles()[kind]),
        "instance": request.path if request is not None else "",
    }
    if errors:
        body["errors"] = errors
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE
    )
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors(message_dict: dict) -> dict[str, list[str]]:
    """A Django ValidationError's messages by field; those of no field under "non_field"."""
    return {
        ("non_field" if field == "__all__" else field): [str(m) for m in messages]
        for field, messages in message_dict.items()
    }
