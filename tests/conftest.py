"""Shared test configuration.

Hypothesis profiles: ``ci`` (the default) draws enough examples to find real
disagreements; ``nojit`` is picked automatically under NUMBA_DISABLE_JIT=1,
where every kernel runs as plain Python and is ~1000x slower; ``dev`` is for
quick local runs (``--hypothesis-profile=dev``).
"""

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
               print_blob=True)
settings.register_profile("ci", max_examples=40, **_common)
settings.register_profile("nojit", max_examples=6, **_common)
settings.register_profile("dev", max_examples=10, **_common)
settings.load_profile("nojit" if os.environ.get("NUMBA_DISABLE_JIT") == "1" else "ci")
settings.register_profile("thorough", max_examples=400, **_common)


# The browser tests (tests/browser) append what they measure in Chromium to this file;
# the controller prints it once at the end.  These hooks live here because under xdist
# the controller loads only this conftest, not tests/browser/conftest.py.
BROWSER_FIGURES = Path(__file__).resolve().parent / "browser" / "artifacts" / "figures.txt"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, once per run
        BROWSER_FIGURES.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter):
    if BROWSER_FIGURES.exists():
        terminalreporter.write_sep("-", "browser figures (measured in Chromium this run)")
        for line in BROWSER_FIGURES.read_text().splitlines():
            terminalreporter.write_line(line)
