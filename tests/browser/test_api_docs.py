"""The provisioning API's docs page (Swagger UI from our own static files) renders the
schema under the portal's Content-Security-Policy: the `page` fixture fails the test on any
console error or CSP violation."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_api_docs_page_works_under_the_csp(page):
    page.goto("/api/v1/docs")
    expect(
        page.get_by_text("/api/v1/accounts/{account_id}/members/{member_id}").first
    ).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
