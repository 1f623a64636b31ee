"""seed_demo runs before the web server is up, so localstripe's webhooks reach no one: the events
of everything it does (the subscription's last) must still be stored and handled."""

from io import StringIO

import pytest
from django.core.management import call_command

from organizations.management.commands import seed_demo
from stripe_events.models import StripeEvent, StripeEventStatus
from subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


def test_seeding_stores_and_handles_the_subscriptions_stripe_events(
    monkeypatch, django_capture_on_commit_callbacks
):
    from kilo_dashboard.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)  # handle queued events in-process
    # Ninety days of usage are beside the point here and take most of the command's time.
    monkeypatch.setattr(seed_demo, "seed_demo_usage", lambda organization: None)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)

    subscription = Subscription.objects.get(organization__slug="acme")
    events = StripeEvent.objects.filter(object_id=subscription.stripe_id)
    assert set(events.values_list("type", flat=True)) >= {"customer.subscription.created"}
    assert set(events.values_list("status", flat=True)) == {StripeEventStatus.PROCESSED}
    assert "event(s) received that no webhook could deliver" in out.getvalue()
