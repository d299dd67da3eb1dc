from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from subscriptions import proration

prices = st.decimals(
    min_value=Decimal("0"), max_value=Decimal("1000000"), places=2, allow_nan=False
)
starts = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))
lengths = st.integers(min_value=1, max_value=800)


@st.composite
def period_and_day(draw):
    """A period [start, end) and a day from a little before it to a little after it."""
    start = draw(starts)
    end = start + timedelta(days=draw(lengths))
    offset = draw(st.integers(min_value=-5, max_value=(end - start).days + 5))
    return start, end, start + timedelta(days=offset)


@st.composite
def upgrade_prices(draw):
    old = draw(prices)
    new = draw(st.decimals(min_value=old, max_value=Decimal("2000000"), places=2))
    return old, new


@given(period_and_day(), upgrade_prices())
def test_credit_and_charge_stay_within_the_prices(dates, pair):
    start, end, today = dates
    old, new = pair
    result = proration.plan_change(
        old_price=old, new_price=new, period_start=start, period_end=end, today=today
    )
    assert Decimal(0) <= result.credit <= old
    assert Decimal(0) <= result.charge <= new
    assert result.net >= 0
    for amount in (result.credit, result.charge):
        assert amount == amount.quantize(Decimal("0.01"))


@given(period_and_day(), upgrade_prices())
def test_no_day_left_costs_nothing(dates, pair):
    start, end, _day = dates
    old, new = pair
    for today in (end, end + timedelta(days=3)):
        result = proration.plan_change(
            old_price=old, new_price=new, period_start=start, period_end=end, today=today
        )
        assert (result.remaining_days, result.credit, result.charge) == (0, 0, 0)


@given(period_and_day(), upgrade_prices())
def test_the_whole_period_costs_the_full_difference(dates, pair):
    start, end, _day = dates
    old, new = pair
    result = proration.plan_change(
        old_price=old, new_price=new, period_start=start, period_end=end, today=start
    )
    assert (result.credit, result.charge, result.net) == (old, new, new - old)


@given(period_and_day(), prices)
def test_later_means_less(dates, price):
    start, end, today = dates
    here = proration.prorate(price, period_start=start, period_end=end, today=today)
    later = proration.prorate(
        price, period_start=start, period_end=end, today=today + timedelta(days=1)
    )
    assert later <= here


@pytest.mark.parametrize(
    ("today", "credit", "charge"),
    [
        # 265 of 365 days left: 6000 × 265/365 = 4356.164… ; 12000 × 265/365 = 8712.328…
        (date(2026, 4, 11), Decimal("4356.16"), Decimal("8712.33")),
        # The last day of the period: 1/365.
        (date(2026, 12, 31), Decimal("16.44"), Decimal("32.88")),
    ],
)
def test_known_amounts(today, credit, charge):
    result = proration.plan_change(
        old_price=Decimal("6000.00"),
        new_price=Decimal("12000.00"),
        period_start=date(2026, 1, 1),
        period_end=date(2027, 1, 1),
        today=today,
    )
    assert (result.credit, result.charge) == (credit, charge)


def test_half_a_cent_rounds_up():
    amount = proration.prorate(
        Decimal("0.05"),
        period_start=date(2026, 1, 1),
        period_end=date(2026, 1, 3),
        today=date(2026, 1, 2),
    )
    assert amount == Decimal("0.03")


def test_an_empty_period_is_refused():
    with pytest.raises(ValueError):
        proration.remaining_days(
            period_start=date(2026, 1, 1), period_end=date(2026, 1, 1), today=date(2026, 1, 1)
        )
