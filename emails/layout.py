"""The one layout of every email: the brand's header and footer around each message, in HTML
(templates/emails/base.html, its CSS copied into style attributes) and in plain text (the
same footer under the text), so that both parts carry the same links (docs/brand.md)."""

from functools import cache

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.translation import gettext

from billing_portal import brand


@cache
def _inliner():
    import css_inline

    # Nothing is fetched: the only stylesheet is the layout's own <style>. The @media rules
    # cannot go into attributes and stay in <style> for the clients that read them.
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def layout_context(context: dict) -> dict:
    return {**context, "site_url": settings.SITE_URL, "brand": brand.current()}


def render_html(template_name: str, context: dict) -> str:
    """An HTML part: `template_name` extends emails/base.html; its CSS is inlined."""
    return _inliner().inline(render_to_string(template_name, layout_context(context)))


def render_text(template_name: str, context: dict) -> str:
    """A plain-text part: `template_name`, then the layout's footer (brand and help link)."""
    body = render_to_string(template_name, layout_context(context)).rstrip()
    return f"{body}\n\n-- \n{text_footer()}\n"


def text_footer() -> str:
    help_text = gettext("Besoin d'aide ? Contactez-nous.")
    return f"{brand.current().name} · {help_text} {settings.SITE_URL}/support/contact/"
