import pytest

from api import services
from api.models import SCOPES


@pytest.fixture
def api_client_a(support_user):
    return services.client_create(name="Host production", actor=support_user)


@pytest.fixture
def api_client_b(support_user):
    return services.client_create(name="Host staging", actor=support_user)


@pytest.fixture
def key_a(api_client_a, support_user):
    return services.key_create(
        client=api_client_a, name="all", scopes=list(SCOPES), actor=support_user
    ).secret


@pytest.fixture
def key_b(api_client_b, support_user):
    return services.key_create(
        client=api_client_b, name="all", scopes=list(SCOPES), actor=support_user
    ).secret


@pytest.fixture
def api(client):
    """Calls the API as a client would: JSON in, a key in the Authorization header."""

    class Caller:
        def __call__(self, method, path, key=None, json=None, headers=None, **extra):
            headers = dict(headers or {})
            if key is not None:
                headers["Authorization"] = f"Bearer {key}"
            kwargs = {"headers": headers}
            if json is not None:
                kwargs["data"] = json
                kwargs["content_type"] = "application/json"
            return getattr(client, method.lower())(f"/api/v1{path}", **kwargs, **extra)

    return Caller()


def account_body(**overrides):
    body = {
        "external_id": "host-42",
        "name": "Festival de Cannes",
        "address_line1": "1 boulevard de la Croisette",
        "postal_code": "06400",
        "city": "Cannes",
        "country": "FR",
        "vat_number": "FR44732829320",
        "currency": "EUR",
        "language": "fr",
        "plan": "professionnel",
        "owner": {"email": "Anne@Example.com", "first_name": "Anne", "last_name": "Durand"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def account_a(api, key_a, plans):
    """An account client A created through the API (its id)."""
    response = api("POST", "/accounts", key_a, json=account_body())
    assert response.status_code == 201, response.content
    return response.json()["id"]
