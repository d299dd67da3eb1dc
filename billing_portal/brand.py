"""The brand: the name, logo and colour of the portal (settings BRAND_*), shown in the page
header, the emails and the invoice PDFs (docs/brand.md).

The colour never goes into a style attribute (the Content-Security-Policy forbids inline
styles): pages link a small stylesheet served by `brand_css`, which sets the custom
properties portal.css reads. Every colour printed on or around the brand colour is
computed here to keep a WCAG AA contrast (4.5:1) whatever colour is configured.
"""

import base64
import hashlib
import logging
import mimetypes
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core import checks
from django.http import HttpResponse
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

DEFAULT_NAME = "Palmarès"
DEFAULT_COLOR = "#2f5bea"
DEFAULT_LOGO = "brand/logo.svg"
DEFAULT_EMAIL_LOGO = "brand/logo.png"

WHITE = "#ffffff"
BLACK = "#000000"
# The page background (portal.css --bg) and the lightest brand tint text sits on: links
# and brand-coloured text must read on both.
PAGE_BACKGROUND = "#f6f7f9"
AA = 4.5

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# What an email client or WeasyPrint shows: the email logo must be one of these.
RASTER_TYPES = {"image/png", "image/jpeg", "image/gif"}
LOGO_TYPES = RASTER_TYPES | {"image/svg+xml"}


# --- Colours -------------------------------------------------------------------------


def parse_hex(value: str) -> tuple[int, int, int]:
    """(r, g, b) of "#2f5bea" or "#25e"; ValueError for anything else."""
    if not isinstance(value, str) or not _HEX.fullmatch(value.strip()):
        raise ValueError(f"not a hex colour such as #2f5bea: {value!r}")
    digits = value.strip()[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def relative_luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance (sRGB)."""

    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in parse_hex(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two colours, from 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str) -> str:
    """White or black, whichever reads better on `background`: one of them always reaches
    4.5:1 (the worst case, a mid grey, still gives 4.58:1)."""
    return WHITE if contrast(background, WHITE) >= contrast(background, BLACK) else BLACK


def mix(colour: str, other: str, amount: float) -> str:
    """`colour` moved `amount` (0 to 1) of the way towards `other`."""
    a, b = parse_hex(colour), parse_hex(other)
    return to_hex(tuple(x + (y - x) * amount for x, y in zip(a, b, strict=True)))


def darkened_for(colour: str, background: str, ratio: float = AA) -> str:
    """`colour`, darkened just enough to be read as text on `background`."""
    shade = colour
    for step in range(1, 21):
        if contrast(shade, background) >= ratio:
            return shade
        shade = mix(colour, BLACK, step / 20)
    return BLACK


# --- The brand -----------------------------------------------------------------------


@dataclass(frozen=True)
class Brand:
    name: str
    color: str  # the brand colour, as configured (lower case, 6 digits)
    text_color: str  # text on the brand colour
    hover_color: str  # a pressed or hovered button, still readable under text_color
    link_color: str  # the brand colour as text on the page's background
    dark_color: str  # a darker shade, as text on a light brand tint
    tint_color: str  # a light background of the brand's hue
    logo_url: str  # for pages: a static URL or the configured absolute URL ("" for none)
    logo_file: str | None  # path on disk (a static file), None for a URL
    email_logo_url: str  # absolute, for emails ("" when no raster logo is configured)

    @property
    def logo_data_uri(self) -> str:
        """The logo inlined for WeasyPrint, which fetches nothing ("" when it is a URL)."""
        if not self.logo_file:
            return ""
        return _data_uri(self.logo_file)

    @property
    def css(self) -> str:
        return (
            ":root {"
            f" --brand: {self.color}; --brand-text: {self.text_color};"
            f" --brand-hover: {self.hover_color}; --brand-link: {self.link_color};"
            f" --brand-dark: {self.dark_color}; --brand-tint: {self.tint_color};"
            " }\n"
        )

    @property
    def version(self) -> str:
        """Changes with the stylesheet: the link to it can be cached for good."""
        return hashlib.sha256(self.css.encode()).hexdigest()[:12]


def is_url(value: str) -> bool:
    return urlsplit(value).scheme in {"http", "https"}


def logo_type(value: str) -> str | None:
    return mimetypes.guess_type(urlsplit(value).path)[0]


@lru_cache(maxsize=16)
def _data_uri(path: str) -> str:
    with open(path, "rb") as fh:
        content = fh.read()
    return f"data:{logo_type(path)};base64,{base64.b64encode(content).decode('ascii')}"


def _color_setting() -> str:
    value = getattr(settings, "BRAND_COLOR", DEFAULT_COLOR)
    try:
        return to_hex(parse_hex(value))
    except ValueError:
        # brand.E001 refuses it at `check`; a server started anyway keeps today's colour.
        logger.warning("BRAND_COLOR %r is not a hex colour: %s is used", value, DEFAULT_COLOR)
        return DEFAULT_COLOR


def _static_url(path: str) -> str:
    try:
        return static(path)
    except ValueError:
        # Not in the manifest of collectstatic: brand.E004 refuses it at `check`; a server
        # started anyway shows the name alone rather than failing every page.
        logger.warning("BRAND_LOGO %r is not a collected static file: no logo", path)
        return ""


def _absolute_static(path: str) -> str:
    # The unhashed name: an email waiting in the outbox outlives a deployment's hashes.
    return urljoin(settings.SITE_URL + "/", urljoin(settings.STATIC_URL, path))


def current() -> Brand:
    """The brand the settings describe now (override_settings included)."""
    return _build(
        getattr(settings, "BRAND_NAME", DEFAULT_NAME),
        _color_setting(),
        getattr(settings, "BRAND_LOGO", DEFAULT_LOGO),
        getattr(settings, "BRAND_EMAIL_LOGO", DEFAULT_EMAIL_LOGO),
        settings.SITE_URL,
        settings.STATIC_URL,
    )


@lru_cache(maxsize=16)
def _build(name, color, logo, email_logo, site_url, static_url) -> Brand:
    text = readable_on(color)
    hover = mix(color, BLACK if text == WHITE else WHITE, 0.2)
    tint = mix(color, WHITE, 0.88)
    if logo and is_url(logo):
        logo_url, logo_file = logo, None
    elif logo:
        logo_url, logo_file = _static_url(logo), finders.find(logo)
    else:
        logo_url, logo_file = "", None
    if email_logo and is_url(email_logo):
        email_logo_url = email_logo
    elif email_logo:
        email_logo_url = _absolute_static(email_logo)
    else:
        email_logo_url = ""
    return Brand(
        name=name,
        color=color,
        text_color=text,
        hover_color=hover if contrast(hover, text) >= AA else color,
        link_color=darkened_for(color, PAGE_BACKGROUND),
        dark_color=darkened_for(mix(color, BLACK, 0.2), tint),
        tint_color=tint,
        logo_url=logo_url,
        logo_file=logo_file,
        email_logo_url=email_logo_url,
    )


def context(request) -> dict:
    """Template context processor: `brand` in every page."""
    return {"brand": current()}


@require_GET
def brand_css(request) -> HttpResponse:
    """The brand's custom properties, a stylesheet of their own so that no page needs an
    inline style. Pages link it with `?v=<version>`: that URL never changes content."""
    brand = current()
    response = HttpResponse(brand.css, content_type="text/css; charset=utf-8")
    if request.GET.get("v") == brand.version:
        patch_cache_control(response, public=True, max_age=365 * 24 * 3600, immutable=True)
    else:
        patch_cache_control(response, public=True, max_age=300)
    return response


# --- System checks -------------------------------------------------------------------


@checks.register()
def brand_check(app_configs=None, **kwargs):
    """Refuse a brand the pages, emails or PDFs could not show as configured."""
    found = []
    color = getattr(settings, "BRAND_COLOR", DEFAULT_COLOR)
    try:
        parse_hex(color)
    except ValueError:
        found.append(
            checks.Error(
                f"BRAND_COLOR {color!r} is not a hex colour.",
                hint="Six (or three) hexadecimal digits after #, e.g. BRAND_COLOR=#2f5bea.",
                id="brand.E001",
            )
        )
    if not str(getattr(settings, "BRAND_NAME", DEFAULT_NAME)).strip():
        found.append(
            checks.Error(
                "BRAND_NAME is empty.",
                hint="The name is the header's text and the logo's alternative text.",
                id="brand.E002",
            )
        )
    for setting, allowed in (("BRAND_LOGO", LOGO_TYPES), ("BRAND_EMAIL_LOGO", RASTER_TYPES)):
        value = getattr(settings, setting, "")
        if not value:
            continue
        if logo_type(value) not in allowed:
            kinds = "PNG, JPEG or GIF" if allowed == RASTER_TYPES else "SVG, PNG, JPEG or GIF"
            found.append(
                checks.Error(
                    f"{setting} {value!r} is not an image of a supported type ({kinds}).",
                    hint="Email clients do not show SVG: give emails a PNG."
                    if setting == "BRAND_EMAIL_LOGO"
                    else None,
                    id="brand.E003",
                )
            )
        elif not is_url(value) and not finders.find(value):
            found.append(
                checks.Error(
                    f"{setting} {value!r} is neither an http(s) URL nor a static file.",
                    hint="A path under a static folder (static/brand/logo.svg is "
                    "'brand/logo.svg'), or an absolute URL.",
                    id="brand.E004",
                )
            )
    return found
