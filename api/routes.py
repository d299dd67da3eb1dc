"""The host's provisioning API, mounted at /api/v1/ (docs/integration.md, « API »).

Thin views: each checks the key's scope, finds the account among the client's own (another
client's is a 404), calls the owning app's service with the client's user as the actor, and
shapes the answer. Errors become problem details (api.problems) in the handlers below.
"""

import logging
from typing import Annotated
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from ninja import NinjaAPI, Path, Query, Status, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from accounts import services as account_services
from accounts.models import Membership
from accounts.permissions import client_ip
from subscriptions import services as subscription_services
from subscriptions.models import Plan

from . import problems, selectors, services
from .keys import key_lookup
from .models import SCOPES, ClientAccount
from .pagination import DEFAULT_LIMIT, MAX_LIMIT, BadCursor, page
from .schemas import (
    AccountCreate,
    AccountOut,
    AccountPage,
    AccountUpdate,
    InvoicePage,
    MemberIn,
    MemberOut,
    MemberPage,
    MemberUpdate,
    PlanChange,
    Problem,
    SubscriptionOut,
)

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
AccountId = Annotated[int, Path(ge=1, le=MAX_ID)]
MemberId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
ERRORS = (400, 401, 403, 404, 405, 409, 415, 422)


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token):
        key = key_lookup(token)
        if key is not None:
            services.key_touch(key=key)
        return key


class ProvisioningApi(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """Every operation documents its errors as application/problem+json."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        ref = {"$ref": "#/components/schemas/Problem"}
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status in ERRORS:
                    responses[str(status)] = {
                        "description": problems.BY_STATUS[status],
                        "content": {problems.CONTENT_TYPE: {"schema": ref}},
                    }
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
            Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        return schema


api = ProvisioningApi(
    title="Billing portal provisioning API",
    version="1",
    description=(
        "Create and change the host's customer accounts, their members and plan; read "
        "their subscription and invoices. Authenticate with `Authorization: Bearer <key>` "
        "(keys are made in the admin). Errors are RFC 9457 problem details. "
        "Scopes: " + ", ".join(SCOPES) + "."
    ),
    auth=ApiKeyAuth(),
    urls_namespace="api",
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_decorator=require_safe,
)


# --- Errors ------------------------------------------------------------------------------


def _loc(loc) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "payload")]
    # Ninja names the body parameter; the client knows the fields only.
    if parts and parts[0] in ("data", "changes", "change"):
        parts = parts[1:]
    return ".".join(parts) or "non_field"


@api.exception_handler(NinjaValidationError)
def _invalid_request(request, exc):
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(_loc(error.get("loc", ())), []).append(str(error.get("msg", "")))
    return problems.problem(request, 422, "validation", errors=errors)


@api.exception_handler(DjangoValidationError)
def _refused(request, exc):
    """A service's refusal: 422 with its messages by field, or 409 when the account's state
    is the reason (closed, already taken)."""
    by_field = hasattr(exc, "error_dict")
    if by_field:
        codes = {e.code for errs in exc.error_dict.values() for e in errs}
    else:
        codes = {e.code for e in exc.error_list}
    errors = problems.field_errors(exc.message_dict if by_field else {"__all__": exc.messages})
    detail = " ".join(m for ms in errors.values() for m in ms)
    if codes & {"closed", "conflict", "not_closed", "race"}:
        return problems.problem(request, 409, "conflict", detail=detail, errors=errors)
    return problems.problem(request, 422, "validation", detail=detail, errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return problems.problem(request, 401, "unauthorized")


@api.exception_handler(HttpError)
def _http_error(request, exc):
    return problems.problem(request, exc.status_code, detail=str(exc))


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc):
    return problems.problem(request, 403, "forbidden", detail=str(exc))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return problems.problem(request, 404, "not-found")


@api.exception_handler(BadCursor)
def _bad_cursor(request, exc):
    return problems.problem(
        request, 400, "bad-request", detail=str(exc), errors={"cursor": [str(exc)]}
    )


@api.exception_handler(Exception)
def _server_error(request, exc):
    logger.exception("API error on %s %s", request.method, request.path)
    return problems.problem(request, 500, "server-error")


# --- Helpers -----------------------------------------------------------------------------


def _scope(request, scope: str) -> None:
    if scope not in request.auth.scopes:
        raise PermissionDenied(_("Cette clé n'a pas le droit %(scope)s.") % {"scope": scope})


def _link(request, account_id: int) -> ClientAccount:
    link = selectors.client_account(client=request.auth.client, organisation_id=account_id)
    if link is None:
        raise Http404
    return link


def _actor(request):
    return {"actor": request.auth.client.user, "ip": client_ip(request)}


def _next(request, cursor):
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return f"{request.path}?{urlencode(sorted(query.items()))}"


def _account(link: ClientAccount) -> dict:
    o = link.organisation
    return {
        "id": o.pk,
        "external_id": link.external_id,
        "name": o.name,
        "address_line1": o.address_line1,
        "address_line2": o.address_line2,
        "postal_code": o.postal_code,
        "city": o.city,
        "country": o.country,
        "vat_number": o.vat_number,
        "siren": o.siren,
        "currency": o.currency,
        "language": o.language,
        "status": o.status,
        "created_at": o.created_at,
        "closed_at": o.closed_at,
    }


def _member(m: Membership) -> dict:
    return {
        "id": m.pk,
        "email": m.user.email,
        "first_name": m.user.first_name,
        "last_name": m.user.last_name,
        "role": m.role,
        "created_at": m.created_at,
    }


def _plan(code: str) -> Plan:
    plan = Plan.objects.filter(code=code).first() if len(code) <= 40 else None
    if plan is None:
        raise DjangoValidationError({"plan": _("Aucun forfait ne porte ce code.")})
    return plan


def _subscription(view: selectors.SubscriptionView) -> dict:
    s = view.subscription
    return {
        "plan": {"code": s.plan.code, "name": s.plan.name},
        "next_plan": {"code": s.next_plan.code, "name": s.next_plan.name} if s.next_plan else None,
        "status": s.status,
        "period_start": s.period_start,
        "period_end": s.period_end,
        "features": [vars(f) for f in view.features],
    }


def _invoice(i) -> dict:
    return {
        "number": i.number,
        "kind": i.kind,
        "status": i.status,
        "issue_date": i.issue_date,
        "due_date": i.due_date,
        "period_start": i.period_start,
        "period_end": i.period_end,
        "currency": i.currency,
        "subtotal": str(i.subtotal),
        "vat_amount": str(i.vat_amount),
        "total": str(i.total),
        "amount_paid": str(i.amount_paid),
        "paid_on": i.paid_on,
    }


# --- Accounts ----------------------------------------------------------------------------


@api.get("/accounts", response=AccountPage, url_name="accounts", tags=["accounts"])
def accounts_list(
    request,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    external_id: Annotated[str | None, Query(max_length=100)] = None,
):
    """The accounts this client created, oldest first."""
    _scope(request, "accounts:read")
    links, next_cursor = page(
        selectors.client_accounts(client=request.auth.client, external_id=external_id),
        cursor=cursor,
        limit=limit,
    )
    return {
        "items": [_account(link) for link in links],
        "next_cursor": next_cursor,
        "next": _next(request, next_cursor),
    }


@api.post("/accounts", response={201: AccountOut}, url_name="accounts", tags=["accounts"])
def accounts_create(request, response: HttpResponse, data: AccountCreate):
    """Create an account with its owner and its subscription; the first year is invoiced."""
    _scope(request, "accounts:write")
    plan = _plan(data.plan)
    with transaction.atomic():
        subscription = subscription_services.account_create(
            name=data.name,
            address_line1=data.address_line1,
            address_line2=data.address_line2,
            postal_code=data.postal_code,
            city=data.city,
            country=data.country,
            vat_number=data.vat_number,
            siren=data.siren,
            currency=data.currency,
            language=data.language,
            plan=plan,
            owner_email=data.owner.email,
            owner_first_name=data.owner.first_name,
            owner_last_name=data.owner.last_name,
            **_actor(request),
        )
        link = services.client_account_link(
            client=request.auth.client,
            organisation=subscription.organisation,
            external_id=data.external_id,
        )
    response["Location"] = f"{request.path}/{link.organisation_id}"
    return Status(201, _account(link))


@api.get("/accounts/{account_id}", response=AccountOut, url_name="account", tags=["accounts"])
def account_get(request, account_id: AccountId):
    _scope(request, "accounts:read")
    return _account(_link(request, account_id))


@api.patch("/accounts/{account_id}", response=AccountOut, url_name="account", tags=["accounts"])
def account_update(request, account_id: AccountId, changes: AccountUpdate):
    """Change the fields sent, all or none (one transaction)."""
    _scope(request, "accounts:write")
    link = _link(request, account_id)
    sent = changes.dict(exclude_unset=True)
    sent = {field: value for field, value in sent.items() if value is not None}
    who = _actor(request)
    with transaction.atomic():
        organisation = link.organisation
        if "name" in sent or "language" in sent:
            organisation = account_services.organisation_update_profile(
                organisation=organisation,
                name=sent.get("name"),
                language=sent.get("language"),
                **who,
            )
        address_fields = ("address_line1", "address_line2", "postal_code", "city", "country")
        if any(field in sent for field in address_fields):
            address = {
                field: sent.get(field, getattr(organisation, field)) for field in address_fields
            }
            if "vat_number" in sent and address["country"].upper() != organisation.country:
                # The address service refuses a country that contradicts the VAT number: the
                # new number comes after the address.
                organisation = account_services.organisation_update_vat(
                    organisation=organisation, vat_number="", **who
                )
            organisation = account_services.organisation_update_address(
                organisation=organisation, **address, **who
            )
        if "siren" in sent:
            organisation = account_services.organisation_update_siren(
                organisation=organisation, siren=sent["siren"], **who
            )
        if "vat_number" in sent:
            organisation = account_services.organisation_update_vat(
                organisation=organisation, vat_number=sent["vat_number"], **who
            )
        if "currency" in sent:
            organisation = subscription_services.account_currency_change(
                organisation=organisation, currency=sent["currency"], **who
            )
        if "external_id" in sent:
            link = services.client_account_update(link=link, external_id=sent["external_id"])
    link.organisation.refresh_from_db()
    return _account(link)


@api.post(
    "/accounts/{account_id}/close", response=AccountOut, url_name="account_close", tags=["accounts"]
)
def account_close(request, account_id: AccountId):
    """Close the account now, as its owner's confirmed closure does: no renewal, members
    see the closed-account page, owner and billing contacts are emailed, personal data is
    erased after the grace period unless support reopens it."""
    _scope(request, "accounts:write")
    link = _link(request, account_id)
    subscription_services.account_close(organisation=link.organisation, **_actor(request))
    link.organisation.refresh_from_db()
    return _account(link)


# --- Subscription ------------------------------------------------------------------------


@api.get(
    "/accounts/{account_id}/subscription",
    response=SubscriptionOut,
    url_name="subscription",
    tags=["subscription"],
)
def subscription_get(request, account_id: AccountId):
    """The plan, what it includes (the pricing page's features), the period and status."""
    _scope(request, "accounts:read")
    view = selectors.account_subscription(organisation=_link(request, account_id).organisation)
    if view is None:
        raise Http404
    return _subscription(view)


@api.put(
    "/accounts/{account_id}/subscription/plan",
    response=SubscriptionOut,
    url_name="subscription_plan",
    tags=["subscription"],
)
def subscription_plan_change(request, account_id: AccountId, change: PlanChange):
    """Change the plan: an upgrade now (prorated invoice, emailed), or from the renewal."""
    _scope(request, "subscriptions:write")
    link = _link(request, account_id)
    immediately = None if change.effective is None else change.effective == "now"
    subscription_services.plan_change_by_host(
        organisation=link.organisation,
        plan=_plan(change.plan),
        immediately=immediately,
        **_actor(request),
    )
    return _subscription(selectors.account_subscription(organisation=link.organisation))


# --- Members -----------------------------------------------------------------------------


@api.get(
    "/accounts/{account_id}/members", response=MemberPage, url_name="members", tags=["members"]
)
def members_list(
    request, account_id: AccountId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
):
    _scope(request, "members:read")
    link = _link(request, account_id)
    members, next_cursor = page(
        selectors.account_members(organisation=link.organisation), cursor=cursor, limit=limit
    )
    return {
        "items": [_member(m) for m in members],
        "next_cursor": next_cursor,
        "next": _next(request, next_cursor),
    }


@api.post(
    "/accounts/{account_id}/members",
    response={201: MemberOut},
    url_name="members",
    tags=["members"],
)
def members_add(request, response: HttpResponse, account_id: AccountId, data: MemberIn):
    """Add a program manager (or the owner of an account without one). They sign in with
    the host's identity provider, whose verified email matches theirs."""
    _scope(request, "members:write")
    link = _link(request, account_id)
    membership = account_services.member_add(
        organisation=link.organisation,
        email=data.email,
        first_name=data.first_name,
        last_name=data.last_name,
        role=data.role,
        **_actor(request),
    )
    response["Location"] = f"{request.path}/{membership.pk}"
    return Status(201, _member(membership))


def _membership(request, account_id, member_id) -> Membership:
    link = _link(request, account_id)
    membership = selectors.account_member(organisation=link.organisation, member_id=member_id)
    if membership is None:
        raise Http404
    return membership


@api.get(
    "/accounts/{account_id}/members/{member_id}",
    response=MemberOut,
    url_name="member",
    tags=["members"],
)
def member_get(request, account_id: AccountId, member_id: MemberId):
    _scope(request, "members:read")
    return _member(_membership(request, account_id, member_id))


@api.patch(
    "/accounts/{account_id}/members/{member_id}",
    response=MemberOut,
    url_name="member",
    tags=["members"],
)
def member_update(request, account_id: AccountId, member_id: MemberId, change: MemberUpdate):
    """Rename a member, or make a program manager the owner: the ownership transfer of the
    portal (the former owner becomes a program manager; both are emailed)."""
    _scope(request, "members:write")
    membership = account_services.member_update(
        membership=_membership(request, account_id, member_id),
        first_name=change.first_name,
        last_name=change.last_name,
        role=change.role,
        by_host=True,
        **_actor(request),
    )
    return _member(
        selectors.account_member(organisation=membership.organisation, member_id=membership.pk)
    )


@api.delete(
    "/accounts/{account_id}/members/{member_id}",
    response={204: None},
    url_name="member",
    tags=["members"],
)
def member_remove(request, account_id: AccountId, member_id: MemberId):
    """Remove a program manager (not the owner: hand the account over first)."""
    _scope(request, "members:write")
    account_services.member_remove(
        membership=_membership(request, account_id, member_id), **_actor(request)
    )
    return Status(204, None)


# --- Invoices ----------------------------------------------------------------------------


@api.get(
    "/accounts/{account_id}/invoices",
    response=InvoicePage,
    url_name="invoices",
    tags=["invoices"],
)
def invoices_list(
    request, account_id: AccountId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
):
    """Invoices and credit notes, oldest first."""
    _scope(request, "invoices:read")
    link = _link(request, account_id)
    invoices, next_cursor = page(
        selectors.account_invoices(organisation=link.organisation), cursor=cursor, limit=limit
    )
    return {
        "items": [_invoice(i) for i in invoices],
        "next_cursor": next_cursor,
        "next": _next(request, next_cursor),
    }
