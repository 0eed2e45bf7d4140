"""The monthly report in a real browser: Debian's Chromium, headless, with no network.

Chromium reaches nothing but a local proxy that serves the page and records every request;
a request the *page* makes carries the page as its Referer (Chromium's own background
requests, to its update and account services, do not, and the proxy refuses them too).
Control pages show that a request or a console message would be seen.
"""

from __future__ import annotations

import datetime as dt
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from dagsync.cli import main
from dagsync.report.build import build_report
from dagsync.report.html import CSP, render_html
from dagsync.report.model import SECTIONS
from test_gitops_helpers import Scratch
from test_monthly_report import NOVEMBER, full_readers, write_history

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
ORIGIN = "http://report.test"


@dataclass
class Proxy:
    """Serves ``page`` at ORIGIN/report.html; records (path, referer) of every request."""

    page: bytes
    seen: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    def from_page(self) -> list[str]:
        return [path for path, referer in self.seen if referer.startswith(ORIGIN)]


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    state = Proxy(b"")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.seen.append((self.path, self.headers.get("Referer", "")))
            if self.path == f"{ORIGIN}/report.html":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(state.page)
            else:
                self.send_response(404)
                self.end_headers()

        do_POST = do_GET

        def do_CONNECT(self) -> None:
            state.seen.append((f"CONNECT {self.path}", ""))
            self.send_response(403)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


def chromium(proxy: Proxy, profile: Path, *action: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests run as root
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-pings",
        f"--user-data-dir={profile}",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",  # loopback too goes through the proxy
        "--enable-logging=stderr",
        "--v=0",
        *action,
        f"{ORIGIN}/report.html",
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def console(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


class Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.sections.append(str(dict(attrs).get("id")))
        self._in_h2 = self._in_h2 or tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._in_h2 = self._in_h2 and tag != "h2"

    def handle_data(self, data: str) -> None:
        if self._in_h2 and data.strip():
            self.h2.append(data.strip())


def test_the_controls_show_that_a_request_and_a_console_message_would_be_seen(
    proxy: Proxy, tmp_path: Path
) -> None:
    image = '<img src="http://elsewhere.test/x.png" alt="">'
    proxy.page = f"<!DOCTYPE html><html><body>{image}</body></html>".encode()
    chromium(proxy, tmp_path / "a", "--dump-dom")
    assert "http://elsewhere.test/x.png" in proxy.from_page()
    csp = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    proxy.page = f"<!DOCTYPE html><html><head>{csp}</head><body>{image}</body></html>".encode()
    blocked = chromium(proxy, tmp_path / "b", "--dump-dom")
    assert any("Content Security Policy" in line for line in console(blocked))


def test_the_report_renders_every_section_offline_without_console_messages(
    proxy: Proxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = Scratch.create(tmp_path, monkeypatch)
    history = write_history(
        scratch.root / "h.json", "alpine-books", [("2026-11-02", "24.5"), ("2026-11-20", "26.1")]
    )
    report = build_report(
        scratch.root,
        "alpine-books",
        NOVEMBER,
        full_readers(),
        today=dt.date(2026, 12, 1),
        mail_history=history,
    )
    proxy.page = render_html(report).encode()

    dumped = chromium(proxy, tmp_path / "dom", "--dump-dom")
    assert console(dumped) == []
    assert proxy.from_page() == []
    page = Headings()
    page.feed(dumped.stdout)
    assert page.sections == list(SECTIONS)
    for title in ("Disponibilité", "Sauvegardes", "Messagerie", "Modifications", "Contrat"):
        assert any(h.startswith(title) for h in page.h2), (title, page.h2)
    assert dumped.stdout.count("<svg") == 2
    assert 'class="missing" title="manquante">✗' in dumped.stdout  # 27 November

    shot = tmp_path / "report.png"
    taken = chromium(proxy, tmp_path / "shot", f"--screenshot={shot}", "--window-size=1280,3000")
    assert console(taken) == [] and proxy.from_page() == []
    with Image.open(shot) as image:
        assert image.size == (1280, 3000)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 50  # text, tables and charts drawn, not a blank page


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils is not installed")
def test_the_pdf_holds_every_section_page_by_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = Scratch.create(tmp_path, monkeypatch)
    history = write_history(scratch.root / "h.json", "alpine-books", [("2026-11-02", "24.5")])
    out = tmp_path / "report.pdf"
    args = ["report", "alpine-books", "--month", "2026-11", "--offline", "--format", "pdf"]
    assert (
        main([*args, "--repo", str(scratch.root), "--mail-history", str(history), "-o", str(out)])
        == 0
    )
    assert out.read_bytes().startswith(b"%PDF-")
    pages = []
    for number in range(1, 20):
        done = subprocess.run(
            ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(out), "-"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            break
        pages.append(done.stdout)
    assert pages, "no page"
    text = "\n".join(pages)
    for title in ("Disponibilité", "Sauvegardes", "Messagerie", "Modifications", "Contrat"):
        assert title in text, title
    assert "Non supervisé" in text  # availability and backups were not read (--offline)
    assert "24,50" in pages[0] + (pages[1] if len(pages) > 1 else "")  # the month's reading
