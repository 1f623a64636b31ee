"""The "Usage analytics" policy: off hides every per-member figure from everyone (charts, table,
filter, CSV column); organization totals, a member's own view and billing continue.
Also: the requests card says how many requests failed."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from organizations.models import Membership
from tests.conftest import client_for
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

from .conftest import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def usage(org, owner, member):
    now = timezone.now() - timedelta(minutes=5)
    events = [
        make_event(
            occurred_at=now,
            user_email="owner@acme.test",
            model="gpt-5",
            provider="openai",
            cost_microdollars=7_000_000,
        ),
        *(make_event(occurred_at=now, cost_microdollars=1_000_000) for _ in range(3)),
        make_event(occurred_at=now, status="error", cost_microdollars=0),
    ]
    result = ingest_events(organization_id=org.pk, events=events)
    assert result.rejected == 0, result.errors
    rollup_until_caught_up()


@pytest.fixture
def analytics_off(org):
    org.usage_analytics = False
    org.save(update_fields=["usage_analytics"])


def _tab(user, org, query=""):
    return client_for(user).get(reverse("usage_tab", args=[org.slug]) + query)


def _csv(user, org, query=""):
    response = client_for(user).get(reverse("usage_export", args=[org.slug]) + query)
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.usefixtures("usage", "analytics_off")
def test_off_the_owner_sees_organization_totals_and_nothing_per_member(org, owner):
    response = _tab(owner, org)
    html = response.content.decode()
    page = response.context["page"]
    assert page.metrics[0].value == 10_000_000  # 7 + 3 x 1 dollars: the totals stay
    assert page.members is None and page.member_choices == []
    assert "member-usage-table" not in html and 'name="member"' not in html
    assert "Mei Martinez" not in html and "members_top" not in response.context["charts"]
    assert "Usage analytics is off" in html


@pytest.mark.usefixtures("usage", "analytics_off")
def test_off_a_member_filter_in_the_url_is_ignored(org, owner):
    member_id = Membership.objects.get(user__email="member@acme.test").public_id
    page = _tab(owner, org, f"?member={member_id}").context["page"]
    assert page.metrics[0].value == 10_000_000  # everyone, not the member's $3


@pytest.mark.usefixtures("usage", "analytics_off")
def test_off_the_csv_has_organization_rows_without_a_member_column(org, owner):
    rows = _csv(owner, org, "?range=7d")
    assert rows and "member_email" not in rows[0]
    by_model = {r["model"]: (int(r["requests"]), int(r["errors"]), r["cost_usd"]) for r in rows}
    assert by_model == {"gpt-5": (1, 0, "7.000000"), "claude-sonnet-4-5": (4, 1, "3.000000")}


@pytest.mark.usefixtures("usage", "analytics_off")
def test_off_a_member_still_sees_only_their_own_usage(org, member):
    page = _tab(member, org).context["page"]
    assert page.metrics[0].value == 3_000_000
    assert {r["member_email"] for r in _csv(member, org, "?range=7d")} == {"member@acme.test"}


@pytest.mark.usefixtures("usage")
def test_on_the_member_breakdown_is_shown(org, owner):
    response = _tab(owner, org)
    assert response.context["page"].members is not None
    assert "member-usage-table" in response.content.decode()
    assert "member_email" in _csv(owner, org, "?range=7d")[0]


@pytest.mark.usefixtures("usage")
def test_the_requests_card_says_the_difference_is_errors(org, owner):
    html = _tab(owner, org).content.decode()
    assert "5 requests in all: 1 error (failed requests) not counted here." in html
    assert "Requests (incl. errors)" in html


def test_the_policy_toggle_explains_what_off_means(org, owner):
    html = client_for(owner).get(reverse("organization_tab", args=[org.slug])).content.decode()
    assert "Off: nobody sees figures per member" in html
