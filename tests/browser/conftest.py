"""Browser fixtures: Debian's Chromium through Playwright, and JupyterLab servers.

Skips (loudly, with the reason in pytest's summary) only when chromium or
Playwright cannot be had; `make test` installs chromium with apt first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .jlab import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, LabServer, chromium_available

ROOT = Path(__file__).resolve().parents[2]

# Messages the course cannot act on: the browser's own noise, not the course's.
IGNORED_CONSOLE = (
    "favicon", "Failed to load resource: the server responded with a status of 404",
)


# The figures these tests measure are printed by tests/conftest.py: under xdist only
# the root conftest is loaded by the controller, which writes the summary.


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().parent == here:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not chromium_available():
        pytest.skip(f"BROWSER TESTS NOT RUN: no chromium at {CHROMIUM} "
                    "(apt-get install -y --no-install-recommends chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is pinned
        pytest.skip(f"BROWSER TESTS NOT RUN: playwright missing ({exc})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; console errors and page errors are collected in
    ``page.course_errors`` and checked at teardown."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
          if m.type == "error" and not any(s in m.text for s in IGNORED_CONSOLE) else None)
    pg.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    pg.course_errors = errors
    yield pg
    context.close()


@pytest.fixture(scope="session")
def lecture_lab(tmp_path_factory):
    """JupyterLab over a private copy of lectures/, as a student's working copy:
    what the browser saves never touches the repository."""
    root = tmp_path_factory.mktemp("lab-lectures")
    shutil.copytree(ROOT / "lectures", root / "lectures")
    server = LabServer(root)
    yield server
    server.stop()
