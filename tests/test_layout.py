"""The repository layout of DESIGN.md, and what git must ignore."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", ["course", "lectures", "assignments", "solutions",
                                  "lib/descentlab", "tests", "environment.yml", "pyproject.toml",
                                  "README.md", "Makefile", ".ci/run", "requirements.lock"])
def test_top_level_entries_exist(path):
    assert (ROOT / path).exists()


@pytest.mark.parametrize("folder", ["course", "lectures", "assignments", "solutions"])
def test_course_folders_say_what_goes_there(folder):
    readme = ROOT / folder / "README.md"
    assert readme.is_file() and len(readme.read_text().split()) > 20


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci/run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make course" in readme and "make test" in readme and "make lab" in readme


@pytest.mark.parametrize("path", [".venv/bin/python", ".numba_cache/x.nbi",
                                  "lib/descentlab/__pycache__/a.nbc", "course/gradebook.db",
                                  "course/submitted/alice/ps1/ps1.ipynb",
                                  "course/autograded/alice/ps1/ps1.ipynb",
                                  "course/demo/.grading/run-1-x/submitted/alice/ps1/ps1.ipynb",
                                  "course/feedback/alice/ps1/ps1.html", "course/release/ps1/a.ipynb",
                                  ".ipynb_checkpoints/a.ipynb", ".hypothesis/examples/x",
                                  "work/lectures/01_gradient_descent.ipynb", "out/grades.csv",
                                  "tests/browser/artifacts/a.png"])
def test_gitignore_covers_runtime_files(path):
    out = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert out.returncode == 0, f"{path} is not ignored by .gitignore"


def test_package_is_found_under_lib():
    import descentlab

    assert Path(descentlab.__file__).resolve().parent == ROOT / "lib" / "descentlab"
