"""The Usage tab: figures from rollups, members see only themselves, filters, CSV, empty state."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from organizations.models import Membership, Role
from tests.conftest import client_for, make_user
from usage.ingest import ingest_events
from usage.rollup import rollup_until_caught_up

from .conftest import make_event

pytestmark = pytest.mark.django_db


def _usage(org, events):
    result = ingest_events(organization_id=org.pk, events=events)
    assert result.rejected == 0, result.errors
    rollup_until_caught_up()


@pytest.fixture
def usage(org, owner, member):
    now = timezone.now() - timedelta(minutes=5)
    _usage(
        org,
        [
            make_event(
                occurred_at=now,
                user_email="owner@acme.test",
                model="gpt-5",
                provider="openai",
                cost_microdollars=7_000_000,
            )
        ]
        + [make_event(occurred_at=now, cost_microdollars=1_000_000) for _ in range(3)],
    )


def _tab(user, org, query=""):
    return client_for(user).get(reverse("usage_tab", args=[org.slug]) + query)


def test_owner_sees_everyones_spend_and_the_member_table(org, owner, usage):
    response = _tab(owner, org)
    html = response.content.decode()
    assert response.status_code == 200
    assert "$10.00" in html  # 7 + 3 x 1 dollars
    assert "member-usage-table" in html and "Mei Martinez" in html
    page = response.context["page"]
    assert page.metrics[0].value == 10_000_000
    assert {m.model for m in page.models} == {"gpt-5", "claude-sonnet-4-5"}


def test_a_member_sees_only_their_own_usage(org, member, usage):
    response = _tab(member, org)
    html = response.content.decode()
    page = response.context["page"]
    assert page.metrics[0].value == 3_000_000
    assert [m.model for m in page.models] == ["claude-sonnet-4-5"]
    assert page.members is None and "member-usage-table" not in html
    assert "Olivia" not in html and "gpt-5" not in html.split('id="usage-body"')[1]


def test_a_member_cannot_widen_the_view_with_a_member_filter(org, owner, member, usage):
    owner_membership = Membership.objects.get(user=owner)
    response = _tab(member, org, f"?member={owner_membership.public_id}")
    assert response.context["page"].metrics[0].value == 3_000_000


def test_filters_change_the_figures_and_stay_in_the_links(org, owner, usage):
    page = _tab(owner, org, "?range=7d&model=gpt-5").context["page"]
    assert page.metrics[0].value == 7_000_000
    assert [m.model for m in page.models] == ["gpt-5"]
    assert "model=gpt-5" in page.filters.query()
    member_id = Membership.objects.get(user__email="member@acme.test").public_id
    page = _tab(owner, org, f"?member={member_id}&provider=anthropic").context["page"]
    assert page.metrics[0].value == 3_000_000


def test_a_custom_range_outside_the_usage_is_empty_but_not_an_error(org, owner, usage):
    start = (timezone.now() - timedelta(days=60)).date()
    end = start + timedelta(days=5)
    response = _tab(owner, org, f"?range=custom&start={start}&end={end}")
    assert response.status_code == 200
    assert response.context["page"].metrics[0].value == 0
    assert response.context["filters"].range == "custom"


def test_nonsense_filters_fall_back_to_defaults(org, owner, usage):
    response = _tab(owner, org, "?range=forever&start=x&member=not-a-uuid&sort=evil")
    assert response.status_code == 200
    assert response.context["filters"].range == "period"


def test_htmx_requests_get_only_the_body(org, owner, usage):
    response = client_for(owner).get(
        reverse("usage_tab", args=[org.slug]) + "?range=30d",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="usage-body",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="usage-body"')
    assert "<html" not in html


def test_charts_have_titles_axis_titles_and_tables(org, owner, usage):
    import json

    response = _tab(owner, org)
    charts = response.context["charts"]
    assert set(charts) >= {"daily_spend", "weekly", "monthly", "models_requests", "members_top"}
    spend = json.loads(charts["daily_spend"])
    assert spend["layout"]["title"]["text"] == "Daily spend"
    assert spend["layout"]["yaxis"]["title"]["text"] == "Spend (USD)"
    html = response.content.decode()
    assert html.count('class="chart"') == len(charts)
    assert "Table view" in html and "plotly-cartesian.min.js" in html and "cdn" not in html.lower()


def test_empty_state_for_a_new_organization(org, owner):
    response = _tab(owner, org)
    assert response.status_code == 200
    assert "No usage yet" in response.content.decode()


def _csv(user, org, query=""):
    response = client_for(user).get(reverse("usage_export", args=[org.slug]) + query)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_of_the_filtered_view(org, owner, member, usage):
    rows = _csv(owner, org, "?range=7d")
    assert {r["member_email"] for r in rows} == {"owner@acme.test", "member@acme.test"}
    assert sum(int(r["requests"]) for r in rows) == 4
    assert {r["cost_usd"] for r in rows} == {"7.000000", "3.000000"}
    rows = _csv(owner, org, "?range=7d&model=gpt-5")
    assert [r["model"] for r in rows] == ["gpt-5"]


def test_csv_export_of_a_member_has_only_their_rows(org, member, usage):
    rows = _csv(member, org, "?range=30d")
    assert rows and {r["member_email"] for r in rows} == {"member@acme.test"}


def test_the_number_of_queries_does_not_grow_with_members_and_models(
    org, owner, member, django_assert_max_num_queries
):
    now = timezone.now() - timedelta(minutes=5)
    _usage(org, [make_event(occurred_at=now)])
    owner_client, member_client = client_for(owner), client_for(member)
    url = reverse("usage_tab", args=[org.slug]) + "?range=30d"
    owner_client.get(url)  # the session's first request writes it; count the steady state
    member_client.get(url)
    cache.clear()  # count pages built from the rollups, not served from the page cache
    # 21 with a cold cache: session, user, membership, billing period, members, 11 rollup reads
    # (8, and 3 more while the window's settled days are not cached: the model sums, their
    # latency and the member sums read the settled and the recent days apart), the subscription
    # banner, and the model policy's snapshot (4: organization, policy, catalog, credit
    # standing) that flags models the policy no longer allows.
    with django_assert_max_num_queries(21) as small:
        owner_client.get(url)
    with django_assert_max_num_queries(21) as small_member:
        member_client.get(url + "&model=gpt-5")
    for n in range(15):
        user = make_user(f"dev{n}@acme.test", f"Dev {n}")
        Membership.objects.create(organization=org, user=user, role=Role.MEMBER)
    _usage(
        org,
        [
            make_event(
                occurred_at=now - timedelta(days=d),
                user_email=f"dev{n}@acme.test",
                model=m,
                provider="openai",
                cost_microdollars=1,
            )
            for n in range(15)
            for m in ("gpt-5", "gpt-5-mini", "gpt-4.1")
            for d in range(3)
        ],
    )
    cache.clear()
    with django_assert_max_num_queries(len(small.captured_queries)):
        owner_client.get(url)
    with django_assert_max_num_queries(len(small_member.captured_queries)):
        member_client.get(url + "&model=gpt-5")


def test_the_page_is_cached_until_the_next_rollup_touches_the_organization(org, owner, member):
    now = timezone.now() - timedelta(minutes=5)
    _usage(org, [make_event(occurred_at=now, cost_microdollars=2_000_000)])
    client = client_for(owner)
    url = reverse("usage_tab", args=[org.slug]) + "?range=7d"
    assert "$2.00" in client.get(url).content.decode()
    # A second request reads the page and its figures from the cache: no rollup is read.
    with CaptureQueriesContext(connection) as hit:
        again = client.get(url).content.decode()
    assert "$2.00" in again
    cache_free = [q["sql"] for q in hit.captured_queries if "rollup" in q["sql"]]
    assert cache_free == []
    # New usage: the rollup changes the organization's version, the next request shows it.
    _usage(org, [make_event(occurred_at=now, cost_microdollars=3_000_000)])
    assert "$5.00" in client.get(url).content.decode()
