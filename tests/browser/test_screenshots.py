"""`make screenshots` (manage.py screenshots): the documentation's pictures of the portal."""

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from accounts.models import Membership
from support import screenshots

from ..factories import MembershipFactory, OrganisationFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_page_is_photographed_signed_in_in_french_at_each_width(browser, live_server, tmp_path):
    # The demo's owner, made here rather than seeded: the command seeds the full demo itself.
    owner = UserFactory(email=screenshots.OWNER, first_name="Camille", last_name="Martin")
    organisation = OrganisationFactory(name="Festival de Lyon")
    MembershipFactory(user=owner, organisation=organisation, role=Membership.Role.OWNER)

    written = screenshots.capture(
        live_server.url, tmp_path, names=["contacts"], widths=(390, 1280), browser=browser
    )

    assert written == [tmp_path / "contacts-390.png", tmp_path / "contacts-1280.png"]
    for path, width in zip(written, (390, 1280), strict=True):
        with Image.open(path) as image:
            # The whole page (taller than the window), as wide as the screen, in a palette.
            assert image.width == width and image.height > 0
            assert image.mode == "P"
            colours = image.convert("RGB").getcolors(maxcolors=256)
            assert colours is not None and len(colours) > 10


def test_the_command_refuses_a_width_narrower_than_a_phone(tmp_path):
    with pytest.raises(CommandError, match="320"):
        call_command("screenshots", "--out", str(tmp_path), "--widths", "200")
    assert list(tmp_path.iterdir()) == []
