"""System checks of what invoice PDFs need from the machine (`manage.py check --deploy`)."""

from django.core import checks


@checks.register(checks.Tags.compatibility, deploy=True)
def harfbuzz_subset_check(app_configs=None, **kwargs):
    """WeasyPrint subsets the embedded fonts with HarfBuzz when it finds libharfbuzz-subset;
    without it, it falls back to fontTools, which more than doubles the time to render an
    invoice PDF (about 110 ms → 260 ms a page, docs/performance.md)."""
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except OSError as exc:  # Pango itself is missing: no PDF can be rendered at all
        return [
            checks.Error(
                f"WeasyPrint cannot load its libraries, invoice PDFs cannot be rendered: {exc}",
                hint="apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0",
                id="invoices.E001",
            )
        ]
    if harfbuzz_subset is None:
        return [
            checks.Warning(
                "HarfBuzz-Subset is not installed: invoice PDFs render about twice as slowly.",
                hint="apt-get install libharfbuzz-subset0",
                id="invoices.W001",
            )
        ]
    return []
