"""The rollup's SQLite dialect (the demo's database): the suite runs on PostgreSQL, so this runs
the same rollup in a process of its own on a fresh SQLite file."""

from pathlib import Path

from tests.processes import own_environment, run_script


def test_the_rollup_runs_on_sqlite_with_local_days_hours_and_histograms(tmp_path):
    env = own_environment(
        DJANGO_ENV="development", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    )
    got = run_script(Path(__file__).with_name("sqlite_rollup.py"), env)
    assert got["events"] == 3
    # Asia/Kolkata is UTC+5:30: 19:10Z and 20:10Z on Nov 2 are 00:40 and 01:40 on Nov 3;
    # 10:00Z on Nov 5 is 15:30. 100 ms is in sketch bucket ceil(ln 100 / ln(1.02/0.98)) = 116,
    # 300 ms in 143, 50 ms in ceil(3.91202 / 0.0400053) = 98.
    assert got["rows"]["DailyRollup"] == [
        {
            "day": "2026-11-03",
            "requests": 2,
            "cost": 20,
            "hours": {"requests_h00": 1, "requests_h01": 1},
            "histogram": {"116": 1, "143": 1},
        },
        {
            "day": "2026-11-05",
            "requests": 1,
            "cost": 10,
            "hours": {"requests_h15": 1},
            "histogram": {"98": 1},
        },
    ]
    assert [(r["day"], r["requests"], r["hours"]) for r in got["rows"]["OrgDailyRollup"]] == [
        ("2026-11-03", 2, {"requests_h00": 1, "requests_h01": 1}),
        ("2026-11-05", 1, {"requests_h15": 1}),
    ]
    assert got["again"] == [1, 1]  # r1 on Nov 6 accepted, the retry of r1 on Nov 2 refused
    assert got["keys"] == [
        ["2026-11-02/r1", "2026-11-02/r2", "2026-11-05/r3", "2026-11-06/r1"],
        2,
        ["2026-11-05/r3", "2026-11-06/r1"],
    ]
