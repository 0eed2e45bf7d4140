"""Issue 14, points 1, 2, 4 and 5: the validator tells the whole truth about a client.

- Rules run on every file and section that parsed and typed; the rules that need an invalid
  one are named in one RUN001 note per client, in every format; the summary counts the clients
  with errors.
- Secrets: the scan runs on the raw text of every file whatever YAML and the schema say, and
  no output format echoes a secret, whichever field it sits in.
- Repository-wide findings carry every place (JSON `related`, SARIF relatedLocations) and are
  anchored on the changed file; schema findings in a CGV-required section cite its article.
- SARIF: partialFingerprints, help with the French clause and the fix, helpUri to the rule.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from conftest import FORMATS, Run, Seen
from dagsync.validate.run import validate_repository

SHOP1 = "clients/alpine-books/servers/shop1.yaml"
ALPINE = "clients/alpine-books/client.yaml"
CIME = "clients/cime-conseil/client.yaml"
DB1 = "clients/velo-savoie/servers/db1.yaml"
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def line_of(root: Path, rel: str, needle: str) -> int:
    lines = (root / rel).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


def rules_at(run: Run, file: str) -> set[tuple[str, int, int]]:
    return run.at(file)


# --- 1. complete findings ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_typo_in_one_file_and_a_violation_in_another_are_reported_in_one_run(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, ALPINE, "  mass_mailing: false", "  mass_mailng: false")
    edit(repo_copy, SHOP1, "  retention_days: 7", "  retention_days: 3")
    run = validate(repo_copy, fmt)
    assert run.code == 1
    typo = line_of(repo_copy, ALPINE, "mass_mailng")
    retention = line_of(repo_copy, SHOP1, "retention_days")
    assert rules_at(run, ALPINE) == {("SCH001", typo, 3)}
    assert rules_at(run, SHOP1) == {("BKP003", retention, 19)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_invalid_section_hides_only_the_rules_that_read_it_and_one_note_names_them(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "  anti_ddos: true", '  anti_ddos: "yes"')
    edit(repo_copy, SHOP1, "  retention_days: 7", "  retention_days: 3")
    run = validate(repo_copy, fmt)
    anti_ddos = line_of(repo_copy, SHOP1, "anti_ddos")
    retention = line_of(repo_copy, SHOP1, "retention_days")
    assert rules_at(run, SHOP1) == {("SCH002", anti_ddos, 14), ("BKP003", retention, 19)}
    notes = [f for f in run.findings if f.rule == "RUN001"]
    assert notes == [
        Seen(
            ALPINE,
            1,
            1,
            "RUN001",
            "1 CGV rule(s) not run where their input is invalid: SEC005 reads servers/shop1.yaml "
            "`security`; fix the findings above and validate again",
        )
    ]


def test_an_unreadable_server_file_is_named_and_the_other_servers_are_still_checked(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    cime_servers = sorted((repo_copy / "clients/cime-conseil/servers").glob("*.yaml"))
    assert len(cime_servers) >= 2, "the example client needs two servers for this test"
    broken, other = cime_servers[0], cime_servers[1]
    broken.write_text(broken.read_text() + "extra: [unclosed\n")
    other_rel = other.relative_to(repo_copy).as_posix()
    edit(repo_copy, other_rel, "  antivirus: true", "  antivirus: false")
    run = validate(repo_copy, "json")
    assert run.at(other_rel) == {("SEC005", line_of(repo_copy, other_rel, "antivirus"), 14)}
    note = next(f for f in run.findings if f.rule == "RUN001")
    assert note.file == CIME
    assert f"no rule checked servers/{broken.name} (invalid)" in note.message


def test_an_invalid_section_of_one_server_hides_no_rule_from_the_other_servers(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    dev1, prod1 = (
        "clients/cime-conseil/servers/dev1.yaml",
        "clients/cime-conseil/servers/prod1.yaml",
    )
    edit(repo_copy, dev1, "  anti_ddos: true", '  anti_ddos: "yes"')
    edit(repo_copy, prod1, "  antivirus: true", "  antivirus: false")
    run = validate(repo_copy, "json")
    assert run.at(dev1) == {("SCH002", line_of(repo_copy, dev1, "anti_ddos"), 14)}
    assert run.at(prod1) == {("SEC005", line_of(repo_copy, prod1, "antivirus"), 14)}
    note = next(f for f in run.findings if f.rule == "RUN001")
    assert (note.file, note.message) == (
        CIME,
        "1 CGV rule(s) not run where their input is invalid: SEC005 reads servers/dev1.yaml "
        "`security`; fix the findings above and validate again",
    )


def test_a_server_whose_name_is_invalid_is_still_checked_under_its_file_name(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, DB1, "name: db1", "name: 12")
    edit(repo_copy, DB1, "  antivirus: true", "  antivirus: false")
    run = validate(repo_copy, "json")
    assert run.code == 1 and "Traceback" not in run.err
    assert run.at(DB1) == {
        ("SCH002", line_of(repo_copy, DB1, "name: 12"), 7),
        ("SEC005", line_of(repo_copy, DB1, "antivirus"), 14),
    }


def test_an_invalid_requests_file_names_the_request_rules(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    (repo_copy / "clients/alpine-books/requests.yaml").write_text("requests: [\n")
    run = validate(repo_copy, "json")
    note = next(f for f in run.findings if f.rule == "RUN001")
    assert note.file == ALPINE
    assert "read clients/alpine-books/requests.yaml (invalid)" in note.message
    for rule in ("REQ001", "REQ002", "REQ003"):
        assert rule in note.message


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_the_summary_counts_the_clients_with_errors(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "  retention_days: 7", "  retention_days: 3")
    run = validate(repo_copy, fmt)
    summary = run.out.strip().splitlines()[-1]
    assert "3 client(s)" in summary
    assert summary.endswith("1 client(s) with errors")


def test_json_summary_counts_the_clients_with_errors(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "  retention_days: 7", "  retention_days: 3")
    edit(repo_copy, DB1, "role: production", "role: x")
    summary = json.loads(validate(repo_copy, "json").out)["summary"]
    assert (summary["clients"], summary["failed_clients"]) == (3, 2)


# --- 2. secrets --------------------------------------------------------------------------------

# One distinct password-like secret per kind of field, none of which may appear in any output.
SECRETS = {
    "account key": "Hx7!pQ2vLm9zRt",
    "host key": "Wq4#nB8sKd2fJy",
    "enum field": "Zr5$tY1uIo3pAs",
    "integer field": "Mv6%cX9bNq1wEe",
    "unknown field": "Gt2^hU7jKl4mPo",
    "comment": "Ds8&fG3hJk6lQw",
    "free text": "Ea1*rT5yUi8oPz",
    "url": "Lk3(jH6gFd9sAq",
    "requests summary": "Yx4)cV7bNm2qWe",
    "broken yaml file": "Uo9_iP2aSd5fGh",
    "tagged value": "Rt6+yU3iOp8aSd",
    "stray file": "Bn1=mQ4wEr7tYu",
}


def _plant_secrets(root: Path) -> None:
    s = SECRETS
    edit(
        root,
        SHOP1,
        "      - ssh-ed25519 AAAAC3",
        f"      - {s['account key']}\n      - ssh-ed25519 AAAAC3",
    )
    edit(
        root,
        SHOP1,
        "  host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF+0NLAofU66ht9s98VkVf2f+nD56ggkTZhuefrMA3fO",
        f"  host_key: {s['host key']}",
    )
    edit(root, SHOP1, "role: production", f"role: {s['enum field']}")
    edit(root, SHOP1, "  port: 22", f'  port: "{s["integer field"]}"')
    edit(root, SHOP1, "ips: [", f"password: {s['unknown field']}\nips: [")
    edit(root, SHOP1, "name: shop1", f"name: shop1  # password: {s['comment']}")
    edit(
        root, SHOP1, '  uptime_urls: ["https://www', f'  uptime_urls: ["https://mon:{s["url"]}@www'
    )
    edit(
        root,
        ALPINE,
        "name: Alpine Books SARL",
        f'name: Alpine Books SARL\nnotes: "db password={s["free text"]}"',
    )
    edit(
        root,
        "clients/alpine-books/requests.yaml",
        "    summary: Initial",
        f"    summary: token: {s['requests summary']} Initial",
    )
    db1 = root / DB1
    db1.write_text(db1.read_text() + f"secret: {s['broken yaml file']}\n  bad: [\n")
    cime = sorted((root / "clients/cime-conseil/servers").glob("*.yaml"))[0]
    cime.write_text(cime.read_text().replace("  port: 22", f"  port: !!int {s['tagged value']}", 1))
    (root / "clients/cime-conseil/notes.txt").write_text(f"api_key: {s['stray file']}\n")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_output_format_echoes_a_secret_whatever_field_it_is_in(
    fmt: str, repo_copy: Path, validate: Callable[..., Run]
) -> None:
    _plant_secrets(repo_copy)
    run = validate(repo_copy, fmt)
    assert run.code == 1
    assert "Traceback" not in run.err
    for kind, secret in SECRETS.items():
        assert secret not in run.out + run.err, f"the {kind} secret is echoed in {fmt}"


def test_the_secret_scan_runs_on_every_file_whatever_yaml_and_the_schema_say(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    _plant_secrets(repo_copy)
    run = validate(repo_copy, "json")
    scanned = {(f.file, f.line) for f in run.findings if f.rule == "ACC004"}
    expected = {
        (SHOP1, line_of(repo_copy, SHOP1, "name: shop1")),  # a comment
        (SHOP1, line_of(repo_copy, SHOP1, f"password: {SECRETS['unknown field']}")),  # unknown
        (SHOP1, line_of(repo_copy, SHOP1, "uptime_urls")),  # a URL
        (ALPINE, line_of(repo_copy, ALPINE, "notes:")),  # free text
        (
            "clients/alpine-books/requests.yaml",
            line_of(repo_copy, "clients/alpine-books/requests.yaml", "token:"),
        ),
        (DB1, line_of(repo_copy, DB1, "secret:")),  # a file that is not valid YAML
        ("clients/cime-conseil/notes.txt", 1),  # a stray file
    }
    assert scanned == expected
    assert {f.file for f in run.findings if f.rule == "YAML001"} >= {DB1}


def test_schema_errors_say_what_was_expected_without_the_value(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    _plant_secrets(repo_copy)
    run = validate(repo_copy, "json")
    host_key = next(
        f
        for f in run.findings
        if f.file == SHOP1 and f.rule == "SCH002" and "ssh.host_key" in f.message
    )
    assert host_key.message.endswith(
        f"(got a string of {len(SECRETS['host key'])} character(s), not shown: it may be a "
        "credential)"
    )
    role = next(f for f in run.findings if f.file == SHOP1 and "`role`" in f.message)
    assert role.message == (
        "`role`: input should be 'production' or 'development' (got a string of 14 "
        "character(s), not shown: it may be a credential)"
    )


def test_a_harmless_wrong_value_is_still_quoted(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "role: production", "role: prod")
    run = validate(repo_copy, "json")
    role = next(f for f in run.findings if f.file == SHOP1 and f.rule == "SCH002")
    assert role.message == "`role`: input should be 'production' or 'development' (got 'prod')"


# --- 4. repository-wide findings, located where the change is ---------------------------------


def _duplicate_ip(root: Path) -> None:
    edit(root, DB1, "ips: [", "ips: [203.0.113.10, ")


def test_a_repository_wide_finding_carries_every_place(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    _duplicate_ip(repo_copy)
    doc = json.loads(validate(repo_copy, "json").out)
    dup = next(f for f in doc["findings"] if f["rule"] == "REP010")
    ip_line = line_of(repo_copy, SHOP1, "ips:")
    assert (dup["file"], dup["line"]) == (DB1, line_of(repo_copy, DB1, "ips:"))
    assert dup["related"] == [{"file": SHOP1, "line": ip_line, "column": 7}]
    sarif = json.loads(validate(repo_copy, "sarif").out)
    result = next(r for r in sarif["runs"][0]["results"] if r["ruleId"] == "REP010")
    related = result["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == SHOP1
    assert related["region"] == {"startLine": ip_line, "startColumn": 7}


def test_a_repository_wide_finding_is_anchored_on_the_changed_file(repo_copy: Path) -> None:
    _duplicate_ip(repo_copy)
    unchanged = validate_repository(repo_copy, use_cache=False)
    changed = validate_repository(repo_copy, use_cache=False, changed={SHOP1})
    before = next(f for f in unchanged.findings if f.rule == "REP010")
    after = next(f for f in changed.findings if f.rule == "REP010")
    assert before.file == DB1
    assert (after.file, after.line, after.column) == (SHOP1, line_of(repo_copy, SHOP1, "ips:"), 7)
    assert after.client == "alpine-books" and after.server == "shop1"
    assert after.related == ((before.file, before.line, before.column),)


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_changed_since_anchors_the_annotation_in_the_diff(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    _git(repo_copy, "init", "-q", "-b", "main")
    _git(repo_copy, "add", ".")
    _git(repo_copy, "commit", "-q", "-m", "base")
    edit(repo_copy, SHOP1, "ips: [203.0.113.10]", "ips: [203.0.113.10, 203.0.113.21]")
    db1_ips = (repo_copy / DB1).read_text().split("ips: [", 1)[1].split("]", 1)[0]
    edit(repo_copy, SHOP1, "203.0.113.21", db1_ips.split(",")[0].strip())
    run = validate(repo_copy, "github", "--changed-since", "HEAD")
    dup = [f for f in run.findings if f.rule == "REP010"]
    assert [f.file for f in dup] == [SHOP1]


def test_a_missing_field_of_a_cgv_required_section_cites_its_article(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, CIME, "      days: [tue, thu]\n", "")
    doc = json.loads(validate(repo_copy, "json").out)
    missing = next(f for f in doc["findings"] if f["rule"] == "SCH003")
    assert (missing["file"], missing["pointer"], missing["article"]) == (
        CIME,
        "/contract/root_access/0",
        "6",
    )
    assert missing["message"] == "missing required field `days` in contract.root_access.0"


# --- 5. SARIF for code scanning ----------------------------------------------------------------


def test_sarif_has_fingerprints_help_and_links_and_validates(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "  retention_days: 7", "  retention_days: 3")
    doc = json.loads(validate(repo_copy, "sarif").out)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(doc)
    run = doc["runs"][0]
    result = next(r for r in run["results"] if r["ruleId"] == "BKP003")
    assert set(result["partialFingerprints"]) == {"dagsyncFinding/v1"}
    assert len(result["partialFingerprints"]["dagsyncFinding/v1"]) == 32
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["helpUri"].endswith("/docs/rules.md#bkp003")
    assert rule["help"]["text"].startswith("« Conservation : sur 7 jours glissants")
    assert "\nFix: " in rule["help"]["text"]
    for descriptor in run["tool"]["driver"]["rules"]:
        assert descriptor["help"]["text"] and descriptor["helpUri"]


def test_a_fingerprint_survives_a_line_inserted_above(
    repo_copy: Path, validate: Callable[..., Run]
) -> None:
    edit(repo_copy, SHOP1, "  retention_days: 7", "  retention_days: 3")

    def fingerprint() -> tuple[int, str]:
        run = json.loads(validate(repo_copy, "sarif").out)["runs"][0]
        result = next(r for r in run["results"] if r["ruleId"] == "BKP003")
        line = result["locations"][0]["physicalLocation"]["region"]["startLine"]
        return line, result["partialFingerprints"]["dagsyncFinding/v1"]

    line, before = fingerprint()
    edit(repo_copy, SHOP1, "role: production", "# a comment\nrole: production")
    moved, after = fingerprint()
    assert (moved, after) == (line + 1, before)
