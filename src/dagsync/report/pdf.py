"""The report page printed to PDF by Debian's Chromium, headless (`--format pdf`).

The page is written to a private temporary folder and printed from there with a fresh
profile; it fetches nothing (its Content-Security-Policy allows no source), and Chromium is
pointed at a proxy that does not exist so that its own background requests go nowhere.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from dagsync.errors import DagsyncError

TIMEOUT = 180.0
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens, nothing leaves


class PdfError(DagsyncError):
    """Chromium is missing or could not print the page."""


def chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        raise PdfError("--format pdf needs Chromium: apt-get install chromium")
    return found


def print_pdf(page: str) -> bytes:
    """The PDF of an HTML ``page`` (A4, as Chromium prints it)."""
    with tempfile.TemporaryDirectory(prefix="dagsync-report-") as folder:
        work = Path(folder)
        source, target = work / "report.html", work / "report.pdf"
        source.write_text(page, encoding="utf-8")
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pings",
            f"--user-data-dir={work / 'profile'}",
            f"--proxy-server={NOWHERE}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={target}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfError(f"Chromium could not print the report: {exc}") from exc
        if done.returncode or not target.exists():
            raise PdfError(f"Chromium could not print the report: {done.stderr.strip()[-300:]}")
        return target.read_bytes()
