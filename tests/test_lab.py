"""``descentlab lab`` / ``make lab``: the working copy it prepares and the
command it starts.  The server itself, seen through Chromium, is tested in
tests/browser/test_course_roles.py."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from descentlab import lab

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A course root with an (empty) nbgrader gradebook, standing in for a graded demo class."""
    from nbgrader.api import Gradebook

    root = tmp_path_factory.mktemp("course") / "demo"
    (root / "submitted" / "someone" / "ps1_gradient_descent").mkdir(parents=True)
    (root / "submitted" / "someone" / "ps1_gradient_descent" / "ps1_gradient_descent.ipynb").write_text("{}")
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "descentlab"):
        pass
    return root


def test_a_students_work_is_never_overwritten_and_the_repository_stays_clean(tmp_path, demo):
    lectures = sorted((ROOT / "lectures").glob("*.ipynb"))
    before = {p: p.read_bytes() for p in lectures}
    work = tmp_path / "work"
    lab.prepare(work, role="student", demo=demo, say=lambda *_: None)
    copy = work / "lectures" / lectures[0].name
    assert copy.read_bytes() == lectures[0].read_bytes()
    copy.write_text("the student's own notes")
    (work / "assignments" / "ps1_gradient_descent" / "ps1_gradient_descent.ipynb").write_text("mine")
    lab.prepare(work, role="student", demo=demo, say=lambda *_: None)
    assert copy.read_text() == "the student's own notes"
    assert (work / "assignments" / "ps1_gradient_descent" / "ps1_gradient_descent.ipynb").read_text() \
        == "mine"
    assert {p: p.read_bytes() for p in lectures} == before
    released = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir())
    assert sorted(p.name for p in (work / "course" / "exchange" / "descentlab" / "outbound")
                  .iterdir()) == released


def test_the_instructor_gets_the_demo_class_copied_once(tmp_path, demo):
    work = tmp_path / "work"
    lab.prepare(work, role="instructor", demo=demo, say=lambda *_: None)
    course = work / "course"
    assert (course / "gradebook.db").read_bytes() == (demo / "gradebook.db").read_bytes()
    assert (course / "submitted" / "someone" / "ps1_gradient_descent").is_dir()
    (course / "gradebook.db").write_bytes(b"the instructor's manual grades")
    lab.prepare(work, role="instructor", demo=demo, say=lambda *_: None)
    assert (course / "gradebook.db").read_bytes() == b"the instructor's manual grades"


def test_students_do_not_get_the_instructors_tools(tmp_path, demo):
    pages = {}
    for role in lab.ROLES:
        config = lab.prepare(tmp_path / role, role=role, demo=demo, say=lambda *_: None)
        pages[role] = json.loads((config / "labconfig" / "page_config.json").read_text())
    hidden = {k for k, v in pages["student"]["disabledExtensions"].items() if v}
    assert hidden == {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list"}
    assert not any(pages["instructor"]["disabledExtensions"].values())
    # the ids must be plugins nbgrader's labextension really has
    bundle = Path(sys.prefix, "share/jupyter/labextensions/@jupyter/nbgrader/static")
    text = "".join(p.read_text(errors="ignore") for p in bundle.glob("*.js"))
    for plugin in hidden:
        assert f'"{plugin}"' in text, plugin


@pytest.mark.slow
def test_nbgrader_reads_the_working_copys_config(tmp_path, demo):
    """nbgrader, loading its config as the server extensions do, finds work/'s course."""
    work = tmp_path / "work"
    config = lab.prepare(work, role="instructor", demo=demo, say=lambda *_: None)
    code = ("from nbgrader.apps import NbGrader; from nbgrader.coursedir import CourseDirectory;"
            "from nbgrader.exchange.default.list import ExchangeList as L;"
            "a = NbGrader(); a.load_config_file(); c = a.config;"
            "print(CourseDirectory(config=c).root); print(L(config=c).root);"
            "print(L(config=c).assignment_dir)")
    out = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True,
                         env=lab.environment(config), timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(work / "course"), str(work / "course" / "exchange"),
                                  str(work / "assignments")]


def test_the_command_takes_port_ip_and_no_browser(tmp_path):
    argv = lab.command(tmp_path, port=8890, ip="0.0.0.0", no_browser=True, extra=["--debug"])
    assert argv[1] == "lab" and f"--ServerApp.root_dir={tmp_path}" in argv
    assert {"--port=8890", "--ip=0.0.0.0", "--no-browser", "--debug"} <= set(argv)
    with pytest.raises(ValueError, match="port"):
        lab.command(tmp_path, port=70000)
    with pytest.raises(ValueError, match="role"):
        lab.prepare(tmp_path, role="teacher")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_passes_its_options_on():
    out = subprocess.run(["make", "-n", "-o", ".venv/.descentlab-installed", "lab", "PORT=8890",
                          "IP=0.0.0.0", "NO_BROWSER=1", "ROLE=student"], cwd=ROOT,
                         capture_output=True, text=True, env={**os.environ, "MAKEFLAGS": ""})
    assert out.returncode == 0, out.stderr
    line = " ".join(out.stdout.replace("\\\n", " ").split())
    assert "descentlab lab --port=8890 --ip=0.0.0.0 --no-browser --role=student" in line


@pytest.mark.slow
def test_the_cli_prepares_without_starting(tmp_path, demo):
    out = subprocess.run([sys.executable, "-m", "descentlab.cli", "lab", "--prepare-only",
                          "--work", str(tmp_path / "w"), "--demo", str(demo), "--role", "student",
                          "--port", "8891", "--no-browser"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "--port=8891" in out.stdout and "--no-browser" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "descentlab.cli", "lab", "--role", "teacher"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--role" in bad.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_installs_chromium_first_and_does_nothing_when_it_is_there(tmp_path):
    env = {**os.environ, "MAKEFLAGS": ""}
    plan = subprocess.run(["make", "-n", "-o", ".venv/.descentlab-installed", "test"], cwd=ROOT,
                          capture_output=True, text=True, env=env).stdout
    assert plan.index("apt-get install -y --no-install-recommends chromium") < plan.index("pytest")
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    out = subprocess.run(["make", "-s", "chromium", f"CHROMIUM={fake}"], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""


def test_the_servers_kernels_get_one_blas_thread_unless_the_user_chose(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    env = lab.environment(tmp_path)
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["JUPYTER_CONFIG_DIR"] == str(tmp_path)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert lab.environment(tmp_path)["OPENBLAS_NUM_THREADS"] == "2"
