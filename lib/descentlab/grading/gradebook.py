"""Keeping the gradebook the grader's: a backup before each run, and a check that
nobody added triggers, views or columns to it.

Student code never sees the gradebook inside the sandbox; these checks are
for everything else (an unsandboxed run, a tampered copy restored by hand).
A gradebook whose schema is not exactly the one nbgrader creates is refused.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from functools import lru_cache
from pathlib import Path

__all__ = ["backup", "check_integrity", "GradebookTampered"]


#: backups kept in course/gradebook-backups/ (the newest)
KEEP = 20


class GradebookTampered(RuntimeError):
    """The gradebook holds triggers or a schema nbgrader did not create."""


def backup(course: Path) -> Path | None:
    """Copy ``course/gradebook.db`` into ``course/gradebook-backups/`` (SQLite's backup API)."""
    db = Path(course) / "gradebook.db"
    if not db.exists():
        return None
    folder = Path(course) / "gradebook-backups"
    folder.mkdir(exist_ok=True)
    target = folder / f"gradebook-{time.strftime('%Y%m%d-%H%M%S')}-{time.perf_counter_ns()}.db"
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    for old in sorted(folder.glob("gradebook-*.db"))[:-KEEP]:
        old.unlink()
    return target


def _schema(db: Path) -> set[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master "
                            "WHERE name NOT LIKE 'sqlite_%'").fetchall()
    return {(t, n, " ".join((sql or "").split())) for t, n, sql in rows}


@lru_cache(maxsize=1)
def _nbgrader_schema() -> frozenset:
    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "fresh.db"
        with Gradebook(f"sqlite:///{db}", "descentlab"):
            pass
        return frozenset(_schema(db))


def check_integrity(course: Path) -> None:
    """Raise GradebookTampered if the gradebook has triggers or differs from nbgrader's schema."""
    db = Path(course) / "gradebook.db"
    if not db.exists():
        return
    found = _schema(db)
    triggers = sorted(n for t, n, _ in found if t == "trigger")
    if triggers:
        raise GradebookTampered(f"the gradebook {db} holds triggers {triggers}; nbgrader creates "
                                "none. Restore a backup from gradebook-backups/ before grading")
    extra = sorted(f"{t} {n}" for t, n, _ in found - _nbgrader_schema())
    if extra:
        raise GradebookTampered(f"the gradebook {db} has a schema nbgrader did not create "
                                f"({', '.join(extra[:5])}). Restore a backup before grading")
