"""Two things every request to the API goes through, outside django-ninja's views:

- an error made elsewhere (Django's 404 for an unknown path, the 400 of a NUL byte, a 405,
  an exception) is answered as problem details, never as an HTML page;
- a POST with an Idempotency-Key runs once per key and client: the same key again replays
  the stored answer for 24 hours (api.services.idempotency_claim).
"""

import hashlib
import logging
import re

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _

from . import problems, services
from .keys import bearer_token, key_lookup

logger = logging.getLogger(__name__)

PREFIX = "/api/"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")


class ApiMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(PREFIX):
            return self.get_response(request)
        try:
            body = request.body
        except RequestDataTooBig:
            return problems.problem(request, 413, "payload-too-large")
        if b"\x00" in body or b"\\u0000" in body:
            # PostgreSQL stores no NUL character: refused up front, like a form's.
            return problems.problem(
                request, 400, "bad-request", detail=_("Caractère non autorisé dans la requête.")
            )
        if request.method == "POST" and IDEMPOTENCY_HEADER in request.headers:
            response = self._idempotent(request)
        else:
            response = self.get_response(request)
        return self._as_problem(request, response)

    def process_exception(self, request, exception):
        if isinstance(exception, Http404 | PermissionDenied | SuspiciousOperation | BadRequest):
            return None  # Django answers 404, 403 or 400; __call__ makes it a problem
        if request.path.startswith(PREFIX):
            logger.exception("API error on %s %s", request.method, request.path)
            return problems.problem(request, 500, "server-error")
        return None

    @staticmethod
    def _as_problem(request, response):
        content_type = response.get("Content-Type", "")
        if response.status_code < 400 or content_type.startswith(problems.CONTENT_TYPE):
            return response
        # Outside our handlers (unknown path, NUL byte, 405): the same shape.
        answer = problems.problem(request, response.status_code)
        if response.status_code == 405 and response.has_header("Allow"):
            answer["Allow"] = response["Allow"]
        return answer

    def _idempotent(self, request):
        key_value = request.headers[IDEMPOTENCY_HEADER]
        if not _KEY.fullmatch(key_value):
            return problems.problem(
                request,
                400,
                "bad-request",
                detail=_("La clé d'idempotence compte de 1 à 255 caractères ASCII visibles."),
                errors={IDEMPOTENCY_HEADER: [_("Valeur invalide.")]},
            )
        api_key = key_lookup(bearer_token(request.headers.get("Authorization", "")))
        if api_key is None:
            return self.get_response(request)  # the view answers 401
        digest = hashlib.sha256()
        for part in (request.method, request.get_full_path()):
            digest.update(part.encode() + b"\n")
        digest.update(request.body)
        claim = services.idempotency_claim(
            client=api_key.client, key=key_value, request_hash=digest.hexdigest()
        )
        if claim.outcome == "mismatch":
            return problems.problem(
                request,
                422,
                "idempotency-mismatch",
                detail=_(
                    "Cette clé d'idempotence a déjà servi pour une autre requête : "
                    "choisissez-en une nouvelle."
                ),
            )
        if claim.outcome == "in_progress":
            return problems.problem(
                request,
                409,
                "idempotency-in-progress",
                detail=_(
                    "Une requête avec cette clé d'idempotence est en cours : réessayez "
                    "dans un instant."
                ),
                headers={"Retry-After": "1"},
            )
        if claim.outcome == "replay":
            record = claim.record
            response = HttpResponse(
                bytes(record.body), status=record.status_code, content_type=record.content_type
            )
            if record.location:
                response["Location"] = record.location
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = self._as_problem(request, self.get_response(request))
        except BaseException:
            services.idempotency_complete(
                record=claim.record, status_code=500, content_type="", body=b""
            )
            raise
        services.idempotency_complete(
            record=claim.record,
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            body=response.content,
            location=response.get("Location", ""),
        )
        return response
