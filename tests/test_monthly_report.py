"""`dagsync report`: the monthly report's data comes from its sources, and the page escapes it."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dagsync.cli import main
from dagsync.contract import billing, lifecycle
from dagsync.contract.deadlines import quota_terms, terms_of
from dagsync.gitops.notes import record_apply
from dagsync.report.build import Readers, build_report, not_monitored_readers
from dagsync.report.html import CSP, render_html
from dagsync.report.model import (
    SECTIONS,
    Availability,
    Backups,
    MailUsage,
    Mark,
    Month,
    NotMonitored,
    ServerAvailability,
    Why,
)
from dagsync.report.prometheus import parse, query
from dagsync.report.sections import backup_marks
from dagsync.validate.load import load_clients
from test_gitops_helpers import Scratch

ALICE = "Alice Reviewer <alice@dag.example>"
HOSTILE = "<script>alert('x')</script>"
TODAY = dt.date(2026, 12, 8)
NOVEMBER = Month.parse("2026-11")
OFFLINE = not_monitored_readers("no host in this test")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scratch:
    return Scratch.create(tmp_path, monkeypatch)


def write_history(path: Path, client: str, readings: list[tuple[str, str]]) -> Path:
    path.write_text(json.dumps({client: [{"on": d, "used_gb": g} for d, g in readings]}))
    return path


def policy_of(root: Path, client_id: str):  # type: ignore[no-untyped-def]
    return next((c, p) for c, p in load_clients(root) if c.id == client_id)


class Sections(HTMLParser):
    """The ids of the page's sections and whether any script or external reference exists."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("id"):
            self.ids.append(str(found["id"]))
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            ref = found.get(name) or ""
            if ref and not ref.startswith(("data:", "#")):
                self.external.append(ref)


# --- months and marks ----------------------------------------------------------------------


def test_a_month_is_parsed_strictly_and_knows_its_days() -> None:
    assert (NOVEMBER.first, NOVEMBER.last, len(NOVEMBER.days())) == (
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 30),
        30,
    )
    assert str(Month.parse("2026-12").next) == "2027-01"
    for bad in ("2026-13", "2026-1", "26-11", "2026/11"):
        with pytest.raises(ValueError):
            Month.parse(bad)


def test_each_day_gets_one_backup_mark_from_the_archive_times() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    archives = [
        dt.datetime(2026, 11, 1, 2, 10, tzinfo=paris),  # 02:00 schedule: on time
        dt.datetime(2026, 11, 2, 9, 30, tzinfo=paris),  # 7 h 30 late
        # 3 November: none
        dt.datetime(2026, 11, 4, 1, 55, tzinfo=paris),  # before the hour: on time
    ]
    marks = dict(
        backup_marks(
            archives,
            NOVEMBER,
            frequency="daily",
            schedule="02:00",
            retention_days=60,
            today=dt.date(2026, 11, 5),
        )
    )
    assert [marks[dt.date(2026, 11, d)] for d in (1, 2, 3, 4, 5)] == [
        Mark.ON_TIME,
        Mark.LATE,
        Mark.MISSING,
        Mark.ON_TIME,
        Mark.MISSING,
    ]
    assert max(marks) == dt.date(2026, 11, 5)  # no mark for the days to come


def test_days_older_than_the_retention_are_unknown_not_missing() -> None:
    marks = dict(
        backup_marks(
            [], NOVEMBER, frequency="daily", schedule="02:00", retention_days=7, today=TODAY
        )
    )
    assert marks[dt.date(2026, 11, 30)] is Mark.UNKNOWN  # pruned: nothing can be proved
    assert set(marks.values()) == {Mark.UNKNOWN}
    recent = dict(
        backup_marks(
            [], NOVEMBER, frequency="daily", schedule="02:00", retention_days=14, today=TODAY
        )
    )
    assert recent[dt.date(2026, 11, 30)] is Mark.MISSING
    assert recent[dt.date(2026, 11, 24)] is Mark.UNKNOWN


# --- Prometheus ----------------------------------------------------------------------------


def test_the_range_query_selects_the_client_with_an_escaped_label() -> None:
    assert 'client="alpine-books"' in query("alpine-books")
    assert 'client="a\\"b\\\\"' in query('a"b\\')


def test_a_recorded_range_answer_gives_each_servers_daily_ratio() -> None:
    end_of_first = int(dt.datetime(2026, 11, 2, tzinfo=dt.UTC).timestamp())
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"server": "web1"},
                    "values": [[end_of_first, "1"], [end_of_first + 86400, "0.75"]],
                }
            ],
        },
    }
    found = parse(json.dumps(body))
    assert isinstance(found, tuple)
    (web1,) = found
    assert web1.daily == ((dt.date(2026, 11, 1), 1.0), (dt.date(2026, 11, 2), 0.75))
    assert web1.month_ratio == pytest.approx(0.875)
    assert not isinstance(parse('{"data": {"result": "oops"}}'), tuple)


# --- sections from their sources -----------------------------------------------------------


def test_without_sources_the_sections_say_not_monitored(scratch: Scratch) -> None:
    report = build_report(scratch.root, "alpine-books", NOVEMBER, OFFLINE, today=TODAY)
    data = report.as_json()["sections"]
    assert set(data) == set(SECTIONS)
    for name in ("availability", "backups", "mail"):
        assert data[name]["monitored"] is False, name
    assert "mail-usage.json" in data["mail"]["reason"]
    assert (data["mail"]["why"], data["availability"]["why"]) == ("no_source", "not_read")
    assert data["contract"]["monitored"] is True
    assert {name: data[name]["article"] for name in ("mail", "contract")} == {
        "mail": "6.1",
        "contract": "7, 8",
    }


def test_backups_are_not_monitored_when_no_archive_list_could_be_read(scratch: Scratch) -> None:
    unreachable = Readers(
        lambda _c, _m: (), lambda _c: {"shop1": "backup storage sbg-backup-1 cannot be reached"}
    )
    report = build_report(scratch.root, "alpine-books", NOVEMBER, unreachable, today=TODAY)
    assert report.backups == NotMonitored(
        "backup storage sbg-backup-1 cannot be reached", Why.UNREACHABLE
    )
    assert report.availability == NotMonitored("no uptime probe of this client", Why.NO_SOURCE)
    page = render_html(report)
    assert "<strong>Non supervisé</strong> : la source n&#39;a pas pu être consultée" in page
    assert "<strong>Not monitored</strong> : nothing measured" in render_html(report, "en")


def test_dedicated_mail_is_not_reported_against_the_shared_quota(scratch: Scratch) -> None:
    history = write_history(scratch.root / "h.json", "velo-savoie", [("2026-11-02", "30")])
    report = build_report(
        scratch.root, "velo-savoie", NOVEMBER, OFFLINE, today=TODAY, mail_history=history
    )
    assert isinstance(report.mail, NotMonitored)


def test_the_overage_billed_is_the_one_dagsync_billing_computes(scratch: Scratch) -> None:
    readings = [("2026-09-20", "24.0"), ("2026-10-01", "26.5"), ("2026-10-20", "28.0")]
    readings += [("2026-11-01", "29.0"), ("2026-11-15", "31.2"), ("2026-11-29", "30.0")]
    history = write_history(scratch.root / "h.json", "alpine-books", readings)
    report = build_report(
        scratch.root, "alpine-books", NOVEMBER, OFFLINE, today=TODAY, mail_history=history
    )
    assert isinstance(report.mail, MailUsage)
    _, policy = policy_of(scratch.root, "alpine-books")
    expected = billing.mail_overage(
        [billing.Reading(dt.date.fromisoformat(d), Decimal(g)) for d, g in readings],
        quota_terms(policy),
    )
    (november,) = [m for m in expected.billable_months if m.month == "2026-11"]
    assert report.mail.billed_amount_eur == november.amount == Decimal("20.00")  # 6.2 GB: 2 slices
    assert report.mail.billed_slices == november.slices
    assert [d for d, _ in report.mail.readings] == [
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 15),
        dt.date(2026, 11, 29),
    ]
    assert report.mail.warned_on == ()  # warned on 1 October, the episode goes on
    doc = report.as_json()["sections"]["mail"]
    assert (doc["billed_amount_eur"], doc["included_gb"], doc["hard_limit_gb"]) == (
        "20.00",
        "25",
        "35",
    )


def test_the_notice_date_is_the_one_dagsync_contract_computes(scratch: Scratch) -> None:
    october = Month.parse("2026-10")
    report = build_report(scratch.root, "velo-savoie", october, OFFLINE, today=TODAY)
    client, policy = policy_of(scratch.root, "velo-savoie")
    terms = terms_of(client, policy)
    contract = report.contract
    assert not isinstance(contract, NotMonitored)
    assert contract.next_anniversary == lifecycle.next_renewal(terms, october.last)
    assert contract.next_anniversary == dt.date(2028, 1, 31)
    assert contract.last_notice_day == lifecycle.last_termination_notice(terms, october.last)
    (notice,) = contract.price_notices  # notified on 20 October 2026
    assert (notice.old_monthly_eur, notice.new_monthly_eur) == (
        Decimal("1250.00"),
        Decimal("1310.00"),
    )
    window = lifecycle.price_increase_window(terms, dt.date(2026, 10, 20))
    assert notice.termination_deadline == window.termination_deadline


def test_advice_lists_the_eves_of_weekends_and_holidays_of_the_coming_month(
    scratch: Scratch,
) -> None:
    report = build_report(scratch.root, "alpine-books", NOVEMBER, OFFLINE, today=TODAY)
    days = {f.day: f.holiday for f in report.advice.freeze_days}
    assert days[dt.date(2026, 12, 24)] == "Christmas Day"
    assert days[dt.date(2026, 12, 31)] == "New Year's Day"
    assert dt.date(2026, 12, 4) in days and days[dt.date(2026, 12, 4)] is None  # a Friday
    assert dt.date(2026, 12, 7) not in days  # a Monday before a working Tuesday


def applied_record(client: str, finished: str) -> dict[str, object]:
    return {
        "client": client,
        "servers": [{"server": "db1", "result": "ok", "resources_changed": ["firewall"]}],
        "started_at": finished,
        "finished_at": finished,
        "applied_by": "github-actions",
    }


def test_every_change_applied_in_the_month_with_request_commit_and_reviewer(
    scratch: Scratch,
) -> None:
    seed = scratch.git("rev-parse", "HEAD")
    scratch.git("checkout", "-q", "-b", "erp")
    scratch.add_request("velo-savoie", "REQ-2025-014", "Let the ERP reach the database.")
    scratch.touch("velo-savoie")
    erp = scratch.commit(f"Open the ERP {HOSTILE}\n\nClient-Request: REQ-2025-014")
    scratch.git("checkout", "-q", "main")
    merge = scratch.merge("erp", "Merge pull request #12 from dag/erp", author=ALICE)
    record_apply(scratch.root, merge, applied_record("velo-savoie", "2025-10-11T09:01:30+02:00"))
    scratch.touch("velo-savoie")
    later = scratch.commit("Later work\n\nClient-Request: internal\nReason: tidy")
    record_apply(scratch.root, later, applied_record("velo-savoie", "2025-11-03T10:00:00+01:00"))

    october = build_report(
        scratch.root, "velo-savoie", Month.parse("2025-10"), OFFLINE, today=TODAY
    )
    assert not isinstance(october.changes, NotMonitored)
    # The seed commit was first applied by that same apply: it is listed too.
    shown = {c.commit: c for c in october.changes.changes}
    assert set(shown) == {scratch.short(erp), scratch.short(seed)}
    change = shown[scratch.short(erp)]
    assert change.requests == (("REQ-2025-014", "Let the ERP reach the database."),)
    assert (change.reviewer, change.applied_on, change.result) == (
        ALICE,
        dt.date(2025, 10, 11),
        "ok",
    )
    november = build_report(
        scratch.root, "velo-savoie", Month.parse("2025-11"), OFFLINE, today=TODAY
    )
    assert not isinstance(november.changes, NotMonitored)
    assert [(c.commit, c.internal) for c in november.changes.changes] == [
        (scratch.short(later), True)
    ]

    page = render_html(october)
    assert HOSTILE not in page
    assert "Open the ERP &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


# --- the page ------------------------------------------------------------------------------


def full_readers() -> Readers:
    daily = tuple((d, 1.0 if d.day != 3 else 0.9) for d in NOVEMBER.days())

    def archives(_client: str) -> dict[str, tuple[dt.datetime, ...] | str]:
        paris = dt.timezone(dt.timedelta(hours=1))
        times = tuple(
            dt.datetime.combine(d, dt.time(2, 20), paris) for d in NOVEMBER.days() if d.day != 27
        )
        return {"shop1": times}

    return Readers(lambda _c, _m: (ServerAvailability("shop1", daily),), archives)


def test_the_page_escapes_the_client_name_and_has_every_section(scratch: Scratch) -> None:
    path = scratch.path("clients/alpine-books/client.yaml")
    text = path.read_text()
    path.write_text(text.replace("name: Alpine Books SARL", f'name: "Alpine {HOSTILE}"', 1))
    history = write_history(scratch.root / "h.json", "alpine-books", [("2026-11-02", "24.5")])
    report = build_report(
        scratch.root,
        "alpine-books",
        NOVEMBER,
        full_readers(),
        today=dt.date(2026, 12, 1),  # shop1 keeps 7 days: 25 to 30 November can be proved
        mail_history=history,
    )
    assert report.client_name == f"Alpine {HOSTILE}"
    assert isinstance(report.availability, Availability)
    assert isinstance(report.backups, Backups)
    page = render_html(report)
    assert HOSTILE not in page and "Alpine &lt;script&gt;" in page
    parsed = Sections()
    parsed.feed(page)
    assert parsed.ids == list(SECTIONS)
    assert parsed.scripts == 0 and parsed.external == []
    assert f'content="{CSP}"' in page.replace("&#39;", "'")
    assert "Disponibilité" in page and "décembre 2026" in page and "€ HT" in page
    assert "99,67\u00a0%" in page  # 29 days at 100 % and one at 90 %
    assert page.count("<svg") == 2  # the uptime and the mail charts, inline
    assert isinstance(report.backups, Backups)
    (shop1,) = report.backups.servers
    marks = dict(shop1.marks)  # 02:30 schedule, archives at 02:20, none on the 27th
    assert marks[dt.date(2026, 11, 30)] is Mark.ON_TIME
    assert marks[dt.date(2026, 11, 27)] is Mark.MISSING
    # A mark is a symbol and words a screen reader reads (the words only visually hidden).
    assert '✗<span class="sr-only"> manquante</span>' in page
    assert marks[dt.date(2026, 11, 24)] is Mark.UNKNOWN
    assert "✓" in page and "à l'heure" in page.replace("&#39;", "'")
    english = render_html(report, "en")
    assert "Availability" in english and "99.67%" in english and "EUR excl. VAT" in english


def test_the_command_writes_json_and_html(scratch: Scratch, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["report", "alpine-books", "--month", "2026-11", "--offline", "--repo"]
    assert main([*args, str(scratch.root), "--format", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["client"], doc["month"], list(doc["sections"])) == (
        "alpine-books",
        "2026-11",
        list(SECTIONS),
    )
    page = tmp_path / "r.html"
    assert main([*args, str(scratch.root), "-o", str(page), "--lang", "en"]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert main([*args, str(scratch.root), "--month", "2026-13"]) == 2
    assert (
        main(["report", "nobody", "--month", "2026-11", "--offline", "--repo", str(scratch.root)])
        == 2
    )
