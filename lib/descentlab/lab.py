"""``descentlab lab`` (``make lab``): JupyterLab on a working copy of the course.

Everything a session writes goes into a gitignored ``work/`` folder, so
running a lecture or saving an assignment never dirties the repository:

==========================  ====================================================
``work/lectures/``          the student's copy of ``lectures/``
``work/assignments/<a>/``   the student's copy of each released assignment
                            (nbgrader's Assignment List shows it as fetched)
``work/course/``            the instructor's nbgrader course root: the demo
                            class's submissions, autograded notebooks, feedback
                            and gradebook, and the exchange
``work/.jupyter/``          the configuration this server reads (nbgrader's,
                            JupyterLab's page config, a style sheet)
==========================  ====================================================

Copies are made once: a file already in ``work/`` is never overwritten (delete
it to get a fresh copy).  The demo class is the one ``make course`` grades in
``course/demo``; when it has not been graded yet the instructor's first launch
grades it.

Roles: ``instructor`` (the default) sees nbgrader's Formgrader, Course List and
Create Assignment; ``student`` sees only the Assignment List and Validate.
Validate is hidden on lectures in both: it only makes sense on an assignment.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from .grading.nbconfig import REPO

__all__ = ["ROLES", "prepare", "command", "main"]

WORK = REPO / "work"
LECTURES = REPO / "lectures"
RELEASED = REPO / "assignments"
COURSE_ID = "descentlab"

#: JupyterLab plugins a student does not get (nbgrader 0.9.6's plugin ids)
STUDENT_DISABLED = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                    "@jupyter/nbgrader:course-list"]
ROLES = ("instructor", "student")

# nbgrader adds its Validate button to every notebook's toolbar.  A lecture has
# nothing to validate, so the button is hidden while the current tab is a
# lecture (the tab's caption carries the file's path).
STYLE = """\
/* written by `descentlab lab`: Validate only where there is something to validate */
body:has(.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current[title*="Path: lectures/"])
  .jp-NotebookPanel:not(.lm-mod-hidden) .validate-button {
  display: none !important;
}
"""

NBGRADER_CONFIG = '''\
"""nbgrader configuration for `descentlab lab` (written at every launch)."""

from pathlib import Path

from descentlab.grading.nbconfig import configure

c = get_config()  # noqa: F821 - provided by nbgrader
configure(c, root={course!r})
# the students' copies: nbgrader's Assignment List lists these as fetched
c.Exchange.assignment_dir = {assignments!r}
c.Exchange.cache = {cache!r}
'''


def _copy_missing(src: Path, dest: Path) -> list[Path]:
    """Copy the files of ``src`` that ``dest`` lacks; never overwrite one."""
    copied = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
            continue
        target = dest / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            copied.append(target)
    return copied


def _course_copy(demo: Path, course: Path, say) -> None:
    """The instructor's course root: the graded demo class, copied once."""
    if (course / "gradebook.db").exists():
        say(f"   {course}: kept as it is (delete it to copy the demo class again)")
        return
    if not (demo / "gradebook.db").exists():
        raise FileNotFoundError(f"{demo} has no gradebook.db: grade the demo class first")
    course.mkdir(parents=True, exist_ok=True)
    for name in ("submitted", "autograded", "feedback"):
        if (demo / name).is_dir():
            shutil.copytree(demo / name, course / name, dirs_exist_ok=True)
    shutil.copy2(demo / "gradebook.db", course / "gradebook.db")
    say(f"   {course}: the graded demo class from {demo}")


def _grade_demo(demo: Path, workers: int, say) -> None:
    from .course import grade_demo

    say("   The demo class has not been graded yet: grading it once (a few minutes; "
        "`make course` does the same, and later launches reuse it)")
    grade_demo(workers, course=demo)


def _release(course: Path, names: list[str], say) -> None:
    """Put each assignment in the exchange, as `nbgrader release_assignment` does."""
    from .grading.pipeline import _api

    api = _api(course)
    outbound = course / "exchange" / COURSE_ID / "outbound"
    for name in names:
        if (outbound / name).is_dir():
            continue
        result = api.release_assignment(name)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader release_assignment {name} failed:\n{result.get('log')}")
    say(f"   {len(names)} assignments released into {outbound}")


def prepare(work: Path = WORK, *, role: str = "instructor", demo: Path | None = None,
            lectures: Path = LECTURES, released: Path = RELEASED, workers: int = 2,
            say=print) -> Path:
    """Make ``work`` ready for ``jupyter lab``; returns its Jupyter config folder."""
    from .grading import demo as demo_class

    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    work = Path(work).resolve()
    demo = Path(demo or demo_class.DEMO).resolve()
    names = sorted(p.name for p in released.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    say(f"descentlab lab ({role}): working copy in {work}")
    fresh = _copy_missing(lectures, work / "lectures")
    for name in names:
        fresh += _copy_missing(released / name, work / "assignments" / name)
    say(f"   lectures/ and assignments/ copied into {work} ({len(fresh)} new files; "
        "files already there are never overwritten)")

    course = work / "course"
    if role == "instructor" and not (course / "gradebook.db").exists() \
            and not (demo / "gradebook.db").exists():
        _grade_demo(demo, workers, say)
    if (demo / "gradebook.db").exists() or (course / "gradebook.db").exists():
        _course_copy(demo, course, say)
    else:
        course.mkdir(parents=True, exist_ok=True)
    _release(course, names, say)

    config = work / ".jupyter"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "custom").mkdir(parents=True, exist_ok=True)
    (config / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(
        course=str(course), assignments=str(work / "assignments"),
        cache=str(work / ".nbgrader_cache")))
    disabled = STUDENT_DISABLED if role == "student" else []
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in disabled}}, indent=1) + "\n")
    (config / "custom" / "custom.css").write_text(STYLE)
    return config


def command(work: Path, *, port: int | None = None, ip: str | None = None,
            no_browser: bool = False, extra: list[str] = ()) -> list[str]:
    """The ``jupyter lab`` command line serving ``work``."""
    argv = [str(Path(sys.executable).parent / "jupyter"), "lab", f"--ServerApp.root_dir={work}",
            "--LabApp.custom_css=True"]
    if port is not None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        argv.append(f"--port={port}")
    if ip:
        argv.append(f"--ip={ip}")
    if no_browser:
        argv.append("--no-browser")
    argv += list(extra)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in argv:
        argv.append("--allow-root")  # JupyterLab refuses root without it (containers)
    return argv


def environment(config: Path) -> dict[str, str]:
    env = dict(os.environ)
    # this server's own config folder: nbgrader_config.py, labconfig/page_config.json,
    # custom/custom.css and the user's JupyterLab settings all live in work/.jupyter
    env["JUPYTER_CONFIG_DIR"] = str(config)
    # small-matrix numpy in the lectures runs faster on one BLAS thread
    # (see descentlab.notebooks.SMALL_BLAS_THREADS); a user's own setting wins
    from .notebooks import SMALL_BLAS_THREADS

    env.setdefault("OPENBLAS_NUM_THREADS", SMALL_BLAS_THREADS)
    bindir = str(Path(sys.executable).parent)  # nbgrader shells out to alembic
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def main(*, work: Path | None = None, role: str = "instructor", port: int | None = None,
         ip: str | None = None, no_browser: bool = False, prepare_only: bool = False,
         demo: Path | None = None, workers: int = 2, extra: list[str] = ()) -> int:
    work = Path(work or WORK).resolve()
    try:
        config = prepare(work, role=role, demo=demo, workers=workers)
        argv = command(work, port=port, ip=ip, no_browser=no_browser, extra=extra)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"descentlab lab: {exc}", file=sys.stderr)
        return 2
    if prepare_only:
        print(" ".join(argv))
        return 0
    print("   starting JupyterLab: students open lectures/ and assignments/ "
          "(Nbgrader > Assignment List);"
          + (" instructors open Nbgrader > Formgrader" if role == "instructor" else ""),
          flush=True)
    os.chdir(work)  # nbgrader also looks for its config in the server's working folder
    os.execvpe(argv[0], argv, environment(config))
