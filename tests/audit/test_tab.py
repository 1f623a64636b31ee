"""The Audit logs tab: list, filters, keyset pages, totals, exports, access, the upgrade panel.

The personas' organization (Acme) is in Europe/Berlin (UTC+1 in winter): local days and export
times below are worked out by hand from the UTC times the events are recorded at.
"""

import csv
import io
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.filters import AuditFilters
from audit.models import AuditEvent, AuditTrail
from audit.selectors import totals
from tests.conftest import client_for

from .conftest import record_at, utc, who

NOW = utc(2026, 3, 10, 12, 0)


def tab(org, **params):
    url = reverse("audit_tab", args=[org.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.fixture
def history(enterprise, owner, admin, member):
    """Five events of Acme, in time order, plus one of another organization."""
    org = enterprise
    events = [
        record_at(
            utc(2026, 3, 1, 9, 0),
            actor=who(owner),
            action="invitation.created",
            organization=org,
            target_label="new.hire@example.com",
            after={"email": "new.hire@example.com", "role": "member"},
        ),
        record_at(
            utc(2026, 3, 2, 23, 30),
            actor=who(admin, "198.51.100.4", "Firefox/130"),
            action="member.role_changed",
            organization=org,
            target_label="Mei Martinez",
            before={"role": "member"},
            after={"role": "admin"},
        ),
        record_at(
            utc(2026, 3, 5, 8, 0),
            actor=who(owner),
            action="billing.card_added",
            organization=org,
            target_label='=HYPERLINK("http://evil")',
        ),
        record_at(
            utc(2026, 3, 8, 7, 0), actor=who(member), action="export.usage_csv", organization=org
        ),
        record_at(
            utc(2026, 3, 9, 16, 0),
            actor=who(owner),
            action="organization.policies_updated",
            organization=org,
            before={"usage_analytics": True},
            after={"usage_analytics": False},
        ),
    ]
    return events


def _table(response) -> str:
    html = response.content.decode()
    return html[html.index('id="audit-rows"') :]


def _rows(response) -> list[str]:
    html = _table(response)
    return [
        label
        for label in (
            "Invitation sent",
            "Role changed",
            "Card added",
            "Usage exported (CSV)",
            "Data-collection policy changed",
        )
        if label in html
    ]


@pytest.mark.django_db
def test_the_tab_lists_events_newest_first_with_actor_action_target_diff_ip_and_agent(
    history, enterprise, admin, owner
):
    with time_machine.travel(NOW, tick=False):
        response = client_for(admin).get(tab(enterprise))
    assert response.status_code == 200
    html = _table(response)
    order = [
        html.index(label)
        for label in (
            "Data-collection policy changed",
            "Usage exported (CSV)",
            "Card added",
            "Role changed",
            "Invitation sent",
        )
    ]
    assert order == sorted(order)
    # 23:30 UTC on 2 March is 00:30 on 3 March in Berlin.
    assert "3 Mar 2026, 00:30:00" in html
    assert "Arjun Adeyemi" in html and "198.51.100.4" in html and "Firefox/130" in html
    assert "<del>member</del> → <ins>admin</ins>" in html
    assert "<del>yes</del> → <ins>no</ins>" in html  # usage analytics on -> off
    assert "Mei Martinez" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "member.role_changed"}, ["Role changed"]),
        ({"category": "billing"}, ["Card added"]),
        ({"category": "exports"}, ["Usage exported (CSV)"]),
        ({"q": "hire"}, ["Invitation sent"]),
        ({"q": "198.51.100.4"}, ["Role changed"]),
        ({"q": "policy"}, ["Data-collection policy changed"]),  # matches the action's label
        ({"start": "2026-03-03", "end": "2026-03-05"}, ["Role changed", "Card added"]),
    ],
)
def test_filters_narrow_the_list(history, enterprise, admin, params, expected):
    base = {"start": "2026-02-01", "end": "2026-03-10"}
    with time_machine.travel(NOW, tick=False):
        response = client_for(admin).get(tab(enterprise, **{**base, **params}))
    assert response.status_code == 200
    assert _rows(response) == sorted(expected, key=_rows_order)


def _rows_order(label):
    return [
        "Invitation sent",
        "Role changed",
        "Card added",
        "Usage exported (CSV)",
        "Data-collection policy changed",
    ].index(label)


@pytest.mark.django_db
def test_the_user_filter_shows_one_members_events(history, enterprise, admin, member):
    public_id = member.memberships.get().public_id
    with time_machine.travel(NOW, tick=False):
        response = client_for(admin).get(tab(enterprise, member=public_id))
    assert _rows(response) == ["Usage exported (CSV)"]


@pytest.mark.django_db
def test_bad_filter_values_are_named_and_the_rest_still_apply(history, enterprise, admin):
    with time_machine.travel(NOW, tick=False):
        response = client_for(admin).get(
            tab(enterprise, start="yesterday", action="member.teleported", category="billing")
        )
    assert response.status_code == 200
    html = response.content.decode()
    assert "is not a date for From" in html
    assert "is not an audit action" in html
    assert _rows(response) == ["Card added"]


@pytest.mark.django_db
def test_a_damaged_page_link_is_a_clear_400(enterprise, admin):
    response = client_for(admin).get(tab(enterprise, cursor="not-a-cursor!"))
    assert response.status_code == 400
    assert "damaged" in response.content.decode()


@pytest.mark.django_db
def test_keyset_pages_cover_every_event_once_without_offset(enterprise, owner, admin):
    # 120 events at the very same instant: only the id breaks the ties.
    moment = utc(2026, 3, 9, 10, 0)
    with time_machine.travel(moment, tick=False):
        from django.db import transaction

        from audit.services import audit_record

        with transaction.atomic():
            ids = [
                audit_record(
                    actor=who(owner), action="invitation.resent", organization=enterprise
                ).id
                for _ in range(120)
            ]
    client = client_for(admin)
    seen, url, pages = [], tab(enterprise), 0
    with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as queries:
        while url:
            response = client.get(url)
            pages += 1
            page = response.context["page"]
            seen += [row.event.id for row in page.rows]
            url = response.context["next_url"]
    assert pages == 3
    assert seen == sorted(ids, reverse=True)
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)


@pytest.mark.django_db
def test_older_events_load_as_rows_through_htmx(enterprise, owner, admin):
    with time_machine.travel(utc(2026, 3, 9, 10, 0), tick=False):
        from django.db import transaction

        from audit.services import audit_record

        with transaction.atomic():
            for _ in range(55):
                audit_record(actor=who(owner), action="invitation.resent", organization=enterprise)
    client = client_for(admin)
    with time_machine.travel(NOW, tick=False):
        next_url = client.get(tab(enterprise)).context["next_url"]
        response = client.get(next_url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="audit-more")
    html = response.content.decode()
    assert "<html" not in html
    assert html.count("Invitation resent") == 5


@pytest.mark.django_db
def test_the_list_page_query_count_does_not_grow_with_the_events(enterprise, owner, admin):
    client = client_for(admin)

    def queries_for_page() -> int:
        with time_machine.travel(NOW, tick=False), CaptureQueriesContext(connection) as ctx:
            assert client.get(tab(enterprise)).status_code == 200
        return len(ctx.captured_queries)

    record_at(
        utc(2026, 3, 9, 9, 0), actor=who(owner), action="member.removed", organization=enterprise
    )
    few = queries_for_page()
    for minute in range(30):
        record_at(
            utc(2026, 3, 9, 9, minute),
            actor=who(admin),
            action="member.removed",
            organization=enterprise,
        )
    assert queries_for_page() == few


@pytest.mark.django_db
def test_totals_count_per_local_day_and_per_category(history, enterprise):
    filters = AuditFilters(
        start=utc(2026, 3, 1).date(), end=utc(2026, 3, 9).date(), time_zone="Europe/Berlin"
    )
    result = totals(enterprise, filters, member_user_id=None)
    by_day = {p.start.isoformat(): p.count for p in result.periods}
    assert result.unit == "day" and len(result.periods) == 9
    assert by_day == {
        "2026-03-01": 1,
        "2026-03-02": 0,
        "2026-03-03": 1,
        "2026-03-04": 0,
        "2026-03-05": 1,
        "2026-03-06": 0,
        "2026-03-07": 0,
        "2026-03-08": 1,
        "2026-03-09": 1,
    }
    # Equal counts: the order among them is the catalogue's category order.
    assert result.categories == [
        ("roles", "Roles", 1),
        ("invitations", "Invitations", 1),
        ("billing", "Billing and payments", 1),
        ("policies", "Policies", 1),
        ("exports", "Exports and downloads", 1),
    ]
    # Narrowed by text, the same totals are counted from the events themselves.
    narrowed = totals(
        enterprise, AuditFilters(**{**filters.__dict__, "query": "Mei"}), member_user_id=None
    )
    assert {p.start.isoformat(): p.count for p in narrowed.periods if p.count} == {"2026-03-03": 1}


@pytest.mark.django_db
def test_a_long_range_is_totalled_per_week(history, enterprise):
    filters = AuditFilters(
        start=utc(2025, 12, 1).date(), end=utc(2026, 3, 9).date(), time_zone="Europe/Berlin"
    )
    result = totals(enterprise, filters, member_user_id=None)
    assert result.unit == "week"
    weeks = {p.start.isoformat(): p.count for p in result.periods if p.count}
    # Mondays: 23 Feb (1 Mar is a Sunday), 2 Mar (3, 5, 8 Mar), 9 Mar.
    assert weeks == {"2026-02-23": 1, "2026-03-02": 3, "2026-03-09": 1}


@pytest.mark.django_db
def test_the_chart_has_axis_titles_and_a_table_beside_it(history, enterprise, admin):
    with time_machine.travel(NOW, tick=False):
        response = client_for(admin).get(tab(enterprise))
    figure = json.loads(
        response.context["chart"]
        .replace("\\u003c", "<")
        .replace("\\u003e", ">")
        .replace("\\u0026", "&")
    )
    assert figure["layout"]["xaxis"]["title"]["text"] == "Day"
    assert figure["layout"]["yaxis"]["title"]["text"] == "Events"
    assert sum(figure["data"][0]["y"]) == 5
    assert "Events per day" in response.content.decode()


def _export(client, org, kind, **params):
    url = reverse(f"audit_export_{kind}", args=[org.slug])
    url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


@pytest.mark.django_db
def test_the_csv_export_is_in_local_time_formula_safe_and_audited(history, enterprise, admin):
    client = client_for(admin)
    with time_machine.travel(NOW, tick=False):
        text = _export(client, enterprise, "csv", start="2026-03-01", end="2026-03-06")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == [
        "billing.card_added",
        "member.role_changed",
        "invitation.created",
    ]
    assert rows[1]["time"] == "2026-03-03T00:30:00+01:00"
    assert rows[0]["target_label"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["before"] == '{"role": "member"}'
    event = AuditEvent.objects.get(action="export.audit_csv")
    assert event.actor == admin
    assert event.after == {"filters": {"start": "2026-03-01", "end": "2026-03-06"}}


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
    ],
)
def test_formula_injection_prefixes(value, safe):
    from audit.export import formula_safe

    assert formula_safe(value) == safe


@pytest.mark.django_db
def test_the_json_lines_export_follows_the_filters_and_is_audited(history, enterprise, owner):
    client = client_for(owner)
    with time_machine.travel(NOW, tick=False):
        text = _export(
            client,
            enterprise,
            "jsonl",
            action="member.role_changed",
            start="2026-03-01",
            end="2026-03-10",
        )
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 1
    assert lines[0]["time"] == "2026-03-03T00:30:00+01:00"
    assert lines[0]["before"] == {"role": "member"} and lines[0]["after"] == {"role": "admin"}
    assert lines[0]["actor"] == "Arjun Adeyemi" and lines[0]["ip_address"] == "198.51.100.4"
    assert AuditEvent.objects.filter(action="export.audit_jsonl", actor=owner).count() == 1


@pytest.mark.django_db
def test_the_export_streams_in_batches(history, enterprise, admin, monkeypatch):
    from audit import selectors

    monkeypatch.setattr(selectors, "EXPORT_BATCH", 2)
    with time_machine.travel(NOW, tick=False):
        text = _export(client_for(admin), enterprise, "jsonl", start="2026-03-01")
    assert len(text.splitlines()) == 6  # five events and the export's own record


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["audit_tab", "audit_export_csv", "audit_export_jsonl"])
@pytest.mark.parametrize(
    ("persona", "status"), [("owner", 200), ("admin", 200), ("member", 403), ("outsider", 404)]
)
def test_enterprise_access(enterprise, personas, name, persona, status):
    response = client_for(personas[persona]).get(reverse(name, args=[enterprise.slug]))
    assert response.status_code == status


@pytest.mark.django_db
def test_teams_sees_the_upgrade_panel_with_the_number_of_events_recorded(org, owner, admin):
    for hour in range(3):
        record_at(
            utc(2026, 3, 9, hour), actor=who(owner), action="member.removed", organization=org
        )
    response = client_for(admin).get(tab(org))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Audit logs are part of Enterprise" in html
    assert "<strong>3</strong> audit events" in html
    assert AuditTrail.objects.get(pk=org.pk).retained_events == 3


@pytest.mark.django_db
def test_the_tab_bar_shows_audit_logs_to_managers_only(enterprise, admin, member):
    assert (
        "Audit logs"
        in client_for(admin)
        .get(reverse("organization_tab", args=[enterprise.slug]))
        .content.decode()
    )
    assert (
        "Audit logs"
        not in client_for(member)
        .get(reverse("organization_tab", args=[enterprise.slug]))
        .content.decode()
    )


@pytest.mark.django_db
def test_an_owner_sets_the_retention_on_enterprise(enterprise, owner):
    url = reverse("audit_retention", args=[enterprise.slug])
    response = client_for(owner).post(url, {"years": "5"})
    assert response.status_code == 302
    assert AuditTrail.objects.get(pk=enterprise.pk).retention_years == 5
    event = AuditEvent.objects.get(action="audit.retention_changed")
    assert (event.before, event.after, event.actor) == (
        {"retention_years": 1},
        {"retention_years": 5},
        owner,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("years", ["0", "8", "seven", ""])
def test_a_retention_outside_one_to_seven_years_is_refused(enterprise, owner, years):
    response = client_for(owner).post(
        reverse("audit_retention", args=[enterprise.slug]), {"years": years}, follow=True
    )
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="audit.retention_changed").exists()
    assert not AuditTrail.objects.filter(pk=enterprise.pk, retention_years__gt=1).exists()
    assert "years" in response.content.decode()


@pytest.mark.django_db
def test_teams_cannot_choose_a_retention(org, owner):
    response = client_for(owner).post(
        reverse("audit_retention", args=[org.slug]), {"years": "3"}, follow=True
    )
    assert "Enterprise feature" in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.retention_changed").exists()


@pytest.mark.django_db
def test_after_a_time_zone_change_totals_stay_right_and_the_daily_task_recounts(enterprise, owner):
    from audit.maintenance import counts_follow_time_zone
    from audit.models import AuditCount

    # 23:30 UTC on 2 March: 3 March in Berlin, 2 March in New York (18:30).
    record_at(
        utc(2026, 3, 2, 23, 30), actor=who(owner), action="member.removed", organization=enterprise
    )
    enterprise.time_zone = "America/New_York"
    enterprise.save(update_fields=["time_zone"])
    filters = AuditFilters(
        start=utc(2026, 3, 2).date(), end=utc(2026, 3, 3).date(), time_zone="America/New_York"
    )

    before_recount = totals(enterprise, filters, member_user_id=None)
    assert counts_follow_time_zone(enterprise) is True
    after_recount = totals(enterprise, filters, member_user_id=None)

    for result in (before_recount, after_recount):
        assert [(p.start.isoformat(), p.count) for p in result.periods] == [
            ("2026-03-02", 1),
            ("2026-03-03", 0),
        ]
    assert list(AuditCount.objects.values_list("day", "count")) == [(utc(2026, 3, 2).date(), 1)]
    assert counts_follow_time_zone(enterprise) is False  # nothing left to do


def test_the_events_chart_ticks_whole_events_when_counts_are_small():
    import json
    from datetime import date

    from audit.charts import events_per_period
    from audit.selectors import Period, Totals

    def y_axis(counts):
        periods = [Period(date(2026, 11, d + 1), "", c) for d, c in enumerate(counts)]
        totals = Totals(unit="day", periods=periods, categories=[], total=sum(counts))
        return json.loads(events_per_period(totals))["layout"]["yaxis"]

    assert y_axis([3, 1, 0])["dtick"] == 1  # no ticks at 0.5, 1.5 shown as "1", "2"
    assert "dtick" not in y_axis([300, 12])  # plotly spaces the ticks of large counts


def test_the_change_column_reads_money_and_times_as_people_write_them():
    from zoneinfo import ZoneInfo

    from audit.selectors import diff_rows

    rows = diff_rows(
        {"amount_cents": 225000, "expires_at": "2026-12-05T10:00:00.003497+01:00"},
        {"amount_cents": 5, "expires_at": None, "note": "2026-12-05"},
    )
    assert [(r.field, r.before, r.after) for r in rows] == [
        ("amount", "$2,250.00", "$0.05"),
        ("expires at", "5 Dec 2026, 09:00 UTC", "—"),
        ("note", "", "2026-12-05"),  # a plain date string stays as it is
    ]
    # In the organization's zone, as the tab's other times: Berlin is UTC+1 in December.
    berlin = diff_rows({"expires_at": "2026-12-05T09:00:00+00:00"}, None, ZoneInfo("Europe/Berlin"))
    assert [(r.field, r.before) for r in berlin] == [("expires at", "5 Dec 2026, 10:00")]
