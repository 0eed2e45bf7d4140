"""An uptime URL is probed from DAG's monitoring host: an IP literal, `localhost` or junk there
would turn the probe into a scanner of DAG's own network whose results are mailed to the
client. Such values are SCH002 at their place; public DNS names pass (credentials in a URL
are ACC004's, tested with the secrets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagsync.validate.run import validate_repository

WEB1 = "clients/velo-savoie/servers/web1.yaml"
DECLARED = 'uptime_urls: ["https://shop.velo-savoie.example/"]'


def _with(repo: Path, url: str) -> list[tuple[str, str, int]]:
    path = repo / WEB1
    text = path.read_text()
    assert DECLARED in text
    path.write_text(
        text.replace(DECLARED, f'uptime_urls: ["https://shop.velo-savoie.example/", "{url}"]')
    )
    findings = validate_repository(repo, use_cache=False).findings
    return [(f.rule, f.file, f.line) for f in findings if f.severity.value == "error"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9093/api/v2/status",
        "http://localhost/",
        "http://10.0.0.1/",
        "not a url at all",
        "https://shop.velo-savoie.example/health?token=abc",
        "ftp://shop.velo-savoie.example/",
    ],
)
def test_a_url_that_is_not_a_public_http_name_is_refused_at_its_line(
    repo_copy: Path, url: str
) -> None:
    assert _with(repo_copy, url) == [("SCH002", WEB1, 49)]


@pytest.mark.parametrize(
    "url",
    ["https://shop.velo-savoie.example:8443/health", "http://shop.velo-savoie.example/status.php"],
)
def test_a_public_http_url_is_accepted(repo_copy: Path, url: str) -> None:
    assert _with(repo_copy, url) == []
