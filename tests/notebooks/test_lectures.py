"""The lectures: committed clean, complete, and executing headless as CI runs
them, with their claims checked against what they print.

Each lecture is executed once (by ``descentlab.notebooks.execute``, the
runner behind ``descentlab lectures``), and everything about the executed
copy is checked in that one test, so that the parallel test workers never
execute a lecture twice.
"""

import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from descentlab.notebooks import LECTURES, execute

from .lecture_claims import CLAIMS

ROOT = Path(__file__).resolve().parents[2]
NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


def committed_lectures() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "lectures/*.ipynb"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return [ROOT / line for line in out.stdout.split()]


LECTURE_FILES = sorted(LECTURES.glob("[0-9]*.ipynb"))
IDS = [p.stem for p in LECTURE_FILES]
# a lecture with its own test module (test_lecture04.py for 04_...) is executed
# and checked there, once; the others are executed here
OWN_MODULE = {p.stem for p in LECTURE_FILES
              if (Path(__file__).parent / f"test_lecture{p.stem[:2]}.py").exists()}
EXECUTED = [p for p in LECTURE_FILES if p.stem not in OWN_MODULE]

EXPLORER = re.compile(r"\b(SurfaceExplorer|MomentumExplorer|TrainingExplorer|ScheduleExplorer|"
                      r"BatchSizeExplorer|SearchExplorer)\(")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
DEVICE = re.compile(r"^device: (cuda|mps|cpu)(:\d+)?$", re.M)
TORCH_AGREEMENT = re.compile(r"max relative difference from torch\.optim (\S+)")


def cells(nb, kind):
    return [c for c in nb.cells if c.cell_type == kind]


def printed(nb) -> str:
    return "".join(o.get("text", "") for c in cells(nb, "code") for o in c.outputs
                   if o.output_type == "stream" and o.get("name") == "stdout")


# -- what is committed -------------------------------------------------------------

def test_the_first_three_lectures_are_committed():
    names = {p.name for p in committed_lectures()}
    assert {"01_gradient_descent.ipynb", "02_momentum.ipynb", "03_adaptive.ipynb"} <= names


@pytest.mark.parametrize("path", committed_lectures(), ids=lambda p: p.stem)
def test_committed_lectures_carry_no_outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(cells(nb, "code")):
        assert cell.outputs == [], f"code cell {i} of {path.name} has outputs"
        assert cell.execution_count is None, f"code cell {i} of {path.name} has a count"


@pytest.mark.parametrize("path", LECTURE_FILES, ids=IDS)
def test_lecture_source_has_every_ingredient(path):
    nb = nbformat.read(str(path), as_version=4)
    markdown = "\n".join(c.source for c in cells(nb, "markdown"))
    code = "\n".join(c.source for c in cells(nb, "code"))
    assert "$$" in markdown or r"\begin{aligned}" in markdown, "no displayed LaTeX"
    assert re.search(r"^import descentlab|^from descentlab", code, re.M), \
        "does not import descentlab"
    assert EXPLORER.search(code), "constructs no widget explorer"
    assert "against_torch(" in code or "torch.optim." in code, "no agreement with torch.optim"
    assert "pick_device(" in code and ("device_comparison(" in code or "time_on(" in code), \
        "no device comparison through descentlab.compare"
    assert re.search(r"^#+ .*Exercises", markdown, re.M), "no exercises section"
    assert re.search(r"^#+ .*References", markdown, re.M), "no references section"


# the papers each lecture must cite: (author, year)
CITATIONS = {
    "01_gradient_descent": [("Robbins", "1951"), ("Monro", "1951"), ("Bottou", "2010"),
                            ("Bottou", "2012"), ("Curtis", "2018"), ("Nocedal", "2018")],
    "02_momentum": [("Polyak", "1964"), ("Nesterov", "1983"), ("Qian", "1999"),
                    ("Sutskever", "2013"), ("Goh", "2017"), ("Bengio", "2012")],
    "03_adaptive": [("Jacobs", "1988"), ("Hinton", "2012"), ("Duchi", "2011"),
                    ("Zeiler", "2012"), ("Kingma", "2015"), ("Reddi", "2018"),
                    ("Loshchilov", "2019"), ("Dozat", "2016"), ("Liu", "2020"),
                    ("Wilson", "2017"), ("Keskar", "2017"), ("Soudry", "2018")],
}


@pytest.mark.parametrize("name", sorted(CITATIONS))
def test_lectures_cite_their_papers(name):
    nb = nbformat.read(str(LECTURES / f"{name}.ipynb"), as_version=4)
    references = "\n".join(c.source for c in cells(nb, "markdown")).split("References")[-1]
    for author, year in CITATIONS[name]:
        entry = [line for line in references.splitlines() if author in line and year in line]
        assert entry, f"{name}: no reference by {author} ({year})"


# -- executed ------------------------------------------------------------------------


@pytest.mark.skipif(NOJIT, reason="the lectures run the jitted library; under "
                                  "NUMBA_DISABLE_JIT=1 they would take many minutes")
@pytest.mark.parametrize("path", EXECUTED, ids=[p.stem for p in EXECUTED])
def test_lecture_executes_headless_and_shows_what_it_claims(path, tmp_path, monkeypatch):
    from descentlab.compare import pick_device

    lib = str(ROOT / "lib")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [lib, *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    # pytest -n 2 runs two kernels on two cores: one thread each for BLAS,
    # torch and Numba, or their thread pools fight over the cores and a
    # lecture takes several times longer
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    run = execute(path, keep=tmp_path, timeout=120)
    print(f"{path.name}: {run.seconds:.1f} s")
    assert run.ok, f"{path.name} failed: {run.error}"
    nb = nbformat.read(str(tmp_path / path.name), as_version=4)
    outputs = [o for c in cells(nb, "code") for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]

    # an explorer was displayed: the live widget, with a static picture for exports
    widgets = [o for o in outputs if WIDGET_MIME in o.get("data", {})]
    assert widgets, "no widget explorer was displayed"
    assert all("image/png" in o["data"] for o in widgets)

    out = printed(nb)
    # the device cell printed the device it used, the one this machine offers
    devices = DEVICE.findall(out)
    assert devices, "the device-comparison cell did not print 'device: ...'"
    assert {d for d, _ in devices} == {pick_device().type}
    assert "speed-up vs cpu" in out and re.search(r"\bcpu\s+\d+\.\d\d (ms|us|s)\b", out)

    # every agreement with torch.optim printed is at the level of rounding
    for line in out.splitlines():
        found = TORCH_AGREEMENT.search(line)
        if found:
            limit = 1e-12 if "float64" in line else 1e-5
            assert float(found.group(1)) <= limit, line

    if path.stem in CLAIMS:
        assert any(TORCH_AGREEMENT.search(line) for line in out.splitlines()) or \
            "max |descentlab - torch|" in out
        CLAIMS[path.stem](out)
