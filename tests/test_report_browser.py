"""report.html in a real headless browser (Chromium from the system packages).

Skipped when no Chromium is installed (``apt-get install chromium``). Checks that the page
loads with no console message at all (the report has no script, so any message is an error:
a Content-Security-Policy violation, a blocked resource...), that the rendered DOM holds the
tables, plots and thumbnails, and takes a screenshot (kept under pytest's tmp dir and, when
``LENSCORE_SCREENSHOT_DIR`` is set, copied there for a person to look at).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_report import make_run  # noqa: E402  (tests/ is on sys.path under pytest)

from lenscore.reports.html import write_report

pytestmark = pytest.mark.browser

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(browser: str, url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", "--hide-scrollbars",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium found (install it with: apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    run = make_run(tmp, n=8)
    paths = write_report(run, baseline="blurred")
    return tmp, paths["html"]


def test_report_loads_without_console_errors_and_shows_content(browser, page):
    tmp, html = page
    res = _run(browser, html.resolve().as_uri(), tmp, "--dump-dom")
    assert res.returncode == 0, res.stderr[-2000:]
    console = [ln for ln in res.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert console == [], "\n".join(console)
    dom = res.stdout
    assert dom.count("<table") >= 3  # comparison, per-variant means, failures/reasons
    assert dom.count('<img class="ov"') >= 2  # gallery thumbnails
    assert dom.count('alt="distribution of') >= 3  # plots
    assert "better" in dom and "zzreport.sharp" in dom
    # the prompt with a script tag is text in the DOM, not an element
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom


def test_report_screenshot(browser, page):
    tmp, html = page
    shot = tmp / "report.png"
    res = _run(browser, html.resolve().as_uri(), tmp, f"--screenshot={shot}",
               "--window-size=1400,3000")
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert img.shape[:2] == (3000, 1400)
    assert img.std() > 10  # not a blank page
    # coloured content (verdict cards, plots, thumbnails), not just black text on white
    sat = img.max(axis=2) - img.min(axis=2)
    assert (sat > 60).mean() > 0.002
    out_dir = os.environ.get("LENSCORE_SCREENSHOT_DIR")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(out_dir) / "report.png")
