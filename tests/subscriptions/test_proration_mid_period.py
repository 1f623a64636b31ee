"""Proration end to end at a date inside the period, from the confirming page to Stripe's charge
and our receipt.

A change made at the very start of a period costs the same whether or not proration looks at
the date, so the other tests (which change right after subscribing) cannot tell the two apart.
Here the dashboard's clock is frozen 11 (then 21) thirtieths into the period, and every figure
is written by hand from Stripe's documented proration: a credit for the unused time of the old
items and a charge for the remaining time of the new ones, each proportional to the time left
in the period and rounded to the cent
(https://docs.stripe.com/billing/subscriptions/prorations).
"""

import io
import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from pypdf import PdfReader

from billing import stripe_gateway as gateway
from billing.models import SeatCharge
from subscriptions.models import ChangeKind, SubscriptionChange
from tests.conftest import client_for
from tests.subscriptions.conftest import in_stripe, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 3600


def thirtieths_left(sub, left: int) -> int:  # noqa: ANN001
    """The moment when `left`/30 of the subscription's current period remain in Stripe: day
    31 - left of a 30-day month, and the same fraction of a 28-, 29- or 31-day one (a whole
    number of days is a multiple of 30 x 2,880 seconds, so the moment is a whole second and
    the fraction is exact whichever month the test runs in)."""
    data = in_stripe(sub)
    length = data.current_period_end - data.current_period_start
    assert length % DAY == 0 and 28 * DAY <= length <= 31 * DAY
    return data.current_period_end - length * left // 30


def freeze_at(time_machine, moment: int) -> None:  # noqa: ANN001
    time_machine.move_to(datetime.fromtimestamp(moment, UTC), tick=False)


def confirm_form(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the confirming form, as the browser submits them."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form, f"no form posting to {action}"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))


def charged_now(page: str) -> str:
    """The "Charged now" figure of the proration table, as the page shows it."""
    match = re.search(r"Charged now</th><td[^>]*><strong[^>]*>(\$[\d.,]+)</strong>", page)
    assert match, "no 'Charged now' figure on the page"
    return match.group(1)


def receipt_text(charge: SeatCharge) -> str:
    charge.document.refresh_from_db()
    assert charge.document.is_issued  # rendered by the (eager) task
    with charge.document.file.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join(page.extract_text() for page in reader.pages)


def test_adding_seats_on_day_11_of_30_charges_the_19_days_left(
    org, owner, admin, member, time_machine
):
    sub = subscribe(org, owner, seats=10)
    day_11 = thirtieths_left(sub, 19)
    freeze_at(time_machine, day_11)
    client = client_for(owner)

    page = client.get(
        reverse("subscriptions_seats_preview", args=[org.slug]), {"seats": 2}
    ).content.decode()

    # 10 seats x $15 -> 12 seats x $15, 19 of 30 days left:
    #   unused time on 10 x $15 = $150.00 x 19/30 = -$95.00
    #   remaining time on 12 x $15 = $180.00 x 19/30 = $114.00
    #   charged now: $114.00 - $95.00 = $19.00 (the whole period would be $30.00)
    assert charged_now(page) == "$19.00"
    assert ">-$95.00<" in page and ">$114.00<" in page
    fields = confirm_form(page, reverse("subscriptions_seats_add", args=[org.slug]))
    assert int(fields["proration_date"]) == day_11

    response = client.post(reverse("subscriptions_seats_add", args=[org.slug]), fields)

    assert response.status_code == 302
    assert in_stripe(sub).quantity == 12
    change = SubscriptionChange.objects.get(organization=org, kind=ChangeKind.SEATS_ADDED)
    assert change.amount_cents == 19_00
    assert gateway.payment_intent_retrieve(change.stripe_ref).amount == 19_00  # in Stripe
    charge = SeatCharge.objects.get(organization=org, stripe_ref=change.stripe_ref)
    assert charge.amount_cents == 19_00
    assert sum(line["amount_cents"] for line in charge.lines) == 19_00
    assert "$19.00" in receipt_text(charge)


def test_upgrading_on_day_21_of_30_charges_the_10_days_left(
    org, owner, admin, member, time_machine
):
    sub = subscribe(org, owner, seats=12)
    day_21 = thirtieths_left(sub, 10)
    freeze_at(time_machine, day_21)
    client = client_for(owner)

    page = client.get(
        reverse("subscriptions_plan_preview", args=[org.slug]), {"plan": "enterprise"}
    ).content.decode()

    # 12 seats of Teams ($15) -> 12 seats of Enterprise ($150), 10 of 30 days left:
    #   unused time on 12 x $15 = $180.00 x 10/30 = -$60.00
    #   remaining time on 12 x $150 = $1,800.00 x 10/30 = $600.00
    #   charged now: $600.00 - $60.00 = $540.00 (the whole period would be $1,620.00)
    assert charged_now(page) == "$540.00"
    assert ">-$60.00<" in page and ">$600.00<" in page
    fields = confirm_form(page, reverse("subscriptions_plan_change", args=[org.slug]))
    assert int(fields["proration_date"]) == day_21

    response = client.post(reverse("subscriptions_plan_change", args=[org.slug]), fields)

    assert response.status_code == 302
    assert in_stripe(sub).plan_id == "kilo-enterprise-month-15000"
    change = SubscriptionChange.objects.get(organization=org, kind=ChangeKind.UPGRADED)
    assert change.amount_cents == 540_00
    assert gateway.payment_intent_retrieve(change.stripe_ref).amount == 540_00  # in Stripe
    charge = SeatCharge.objects.get(organization=org, stripe_ref=change.stripe_ref)
    assert charge.amount_cents == 540_00
    assert sum(line["amount_cents"] for line in charge.lines) == 540_00
    assert "$540.00" in receipt_text(charge)
