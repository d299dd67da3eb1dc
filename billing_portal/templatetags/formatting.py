"""{% load formatting %}: the `money`, `last_day`, `long_date` and `long_datetime` filters of
billing_portal.formatting."""

from django import template

from billing_portal import formatting

register = template.Library()
register.filter("money", formatting.money)
register.filter("last_day", formatting.last_day)
# Like |date (it expects the local time of a datetime), in words: "1er octobre 2026".
register.filter("long_date", formatting.long_date, expects_localtime=True)
# A moment in words, where it happens for the reader: "1er octobre 2026 à 10:30".
register.filter("long_datetime", formatting.long_datetime, expects_localtime=True)
