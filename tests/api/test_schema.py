"""The API driven from its own OpenAPI schema (schemathesis), in-process through the WSGI
application: valid and invalid requests alike, no server error, and every answer (status,
content type, body) as the schema documents it."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Membership

from .conftest import account_body

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and mode: 13 operations × 2 modes × this many keep the test under a minute.
EXAMPLES = 10
# Closing comes last: after it, the account refuses every change (409).
LAST = ("/accounts/{account_id}/close",)


@pytest.fixture
def wsgi_schema(settings):
    from billing_portal.wsgi import application

    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(240)
def test_the_api_answers_as_its_schema_says(wsgi_schema, api, key_a, plans):
    created = api("POST", "/accounts", key_a, json=account_body())
    assert created.status_code == 201
    account_id = created.json()["id"]
    manager = api(
        "POST",
        f"/accounts/{account_id}/members",
        key_a,
        json={"email": "m@example.com", "first_name": "M", "last_name": "N"},
    ).json()["id"]
    auth = {"Authorization": f"Bearer {key_a}"}

    operations = [result.ok() for result in wsgi_schema.get_all_operations()]
    operations.sort(key=lambda operation: operation.path in LAST)
    assert len(operations) == 13

    def fuzz(strategy):
        @given(case=strategy, real=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case, real):
            if real and isinstance(case.path_parameters, dict):
                # Half the examples aim at the client's own account and a member of it.
                if "account_id" in case.path_parameters:
                    case.path_parameters["account_id"] = account_id
                if "member_id" in case.path_parameters:
                    case.path_parameters["member_id"] = manager
            response = case.call(headers=auth)
            case.validate_response(response, checks=CHECKS)

        run()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation.as_strategy(generation_mode=mode))

    # It did reach the account: still one owner, and the schema's checks ran against it.
    assert Membership.objects.filter(organisation_id=account_id, role="owner").count() == 1
