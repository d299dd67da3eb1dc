"""{% load formatting %}: the `money` and `last_day` filters of billing_portal.formatting."""

from django import template

from billing_portal import formatting

register = template.Library()
register.filter("money", formatting.money)
register.filter("last_day", formatting.last_day)
