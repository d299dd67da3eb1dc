from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from support import screenshots


class Command(BaseCommand):
    help = (
        "Photograph the portal's tabs, an invoice and the pricing page in French, at 1280 and "
        "390 px, from the demo served on a throwaway SQLite database (docs/screenshots/)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out",
            type=Path,
            default=Path(settings.BASE_DIR) / "docs" / "screenshots",
            help="Folder of the PNGs (default: docs/screenshots/).",
        )
        parser.add_argument(
            "--only",
            nargs="+",
            choices=screenshots.SHOT_NAMES,
            default=screenshots.SHOT_NAMES,
            help="Some of the pages only.",
        )
        parser.add_argument(
            "--widths", nargs="+", type=int, default=list(screenshots.WIDTHS), help="In pixels."
        )

    def handle(self, *args, out, only, widths, **options):
        if not screenshots.CHROMIUM.exists():
            raise CommandError(f"{screenshots.CHROMIUM} is missing: apt-get install chromium")
        if any(width < 320 for width in widths):
            raise CommandError("Widths start at 320 px.")
        with screenshots.demo_server(log=self.stdout.write) as base_url:
            written = screenshots.capture(
                base_url, out, names=only, widths=widths, log=self.stdout.write
            )
        self.stdout.write(self.style.SUCCESS(f"{len(written)} screenshots in {out}"))
