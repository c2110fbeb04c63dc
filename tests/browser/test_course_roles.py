"""The course as a student and an instructor meet it through `make lab`, in Chromium.

One server, started through ``descentlab lab``'s own command line (what
``make lab`` runs) on a private working copy and a small graded demo class
(two ps1 submissions graded by the real pipeline):

* a student fills part 1 of ps1 correctly and part 2 with a catalogued
  mistake, runs all cells, sees the passing notes and the diagnosis, and
  clicks Validate: the dialog shows the diagnosis whole;
* the Assignment List lists the released assignments without errors;
* an instructor's Formgrader lists the demo class, graded, with the
  hand-graded answer waiting;
* Validate is hidden on a lecture.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
import time

import pytest

from descentlab.grading.demo import DEMO, _fill, expected_rows

from .conftest import ROOT
from .jlab import figure, LabServer, command, open_notebook, shot, wait_kernel_idle

ASSIGNMENT = "ps1_gradient_descent"
NOTEBOOK = f"assignments/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
# part 1 right; part 2 with the mistake course/demo/answers/ps1_gradient_descent.py calls kofi's
MINIBATCH = """order = rng.permutation(n)
for start in range(0, n, batch_size):
    yield order[start:start + batch_size]"""
WRONG_SGD = "return w - lr * dw - weight_decay * w"
MISTAKE = "weight decay not multiplied by the learning rate"
DEMO_STUDENTS = ("solution", "kofi")
with open(DEMO / "students.csv", newline="") as _f:
    ROSTER = {r["id"]: (r["first_name"], r["last_name"]) for r in csv.DictReader(_f)}


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory):
    from descentlab.grading.pipeline import grade

    tmp = tmp_path_factory.mktemp("make-lab")
    demo = tmp / "demo"
    for student in DEMO_STUDENTS:
        shutil.copytree(DEMO / "submitted" / student / ASSIGNMENT,
                        demo / "submitted" / student / ASSIGNMENT)
    shutil.copy(DEMO / "students.csv", demo / "students.csv")  # the class's names
    started = time.monotonic()
    rows = grade(ASSIGNMENT, demo, workers=2)
    figure(f"\ndemo class for the Formgrader: {len(rows)} submissions graded in "
          f"{time.monotonic() - started:.0f} s")
    work = tmp / "work"
    server = LabServer(work, cwd=ROOT, command=[
        sys.executable, "-m", "descentlab.cli", "lab", "--work", str(work), "--demo", str(demo)],
        timeout=180)
    server.work = work
    yield server
    server.stop()


def _open_lab(page, server) -> None:
    page.goto(server.url("lab"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=120e3)
    page.evaluate("() => window.jupyterapp.restored")  # every plugin activated


def _cells(page):
    return page.evaluate("""() => window.jupyterapp.shell.currentWidget.content.widgets.map(
        c => [(c.model.getMetadata('nbgrader') || {}).grade_id || null,
              c.model.sharedModel.getSource()])""")


def _set_source(page, grade_id: str, source: str) -> None:
    page.evaluate("""([id, src]) => {
        for (const c of window.jupyterapp.shell.currentWidget.content.widgets) {
            if ((c.model.getMetadata('nbgrader') || {}).grade_id === id) c.model.sharedModel.setSource(src);
        }}""", [grade_id, source])


def _outputs(page, grade_id: str) -> list[dict]:
    """The cell's outputs as the notebook model holds them (off-screen cells are not drawn)."""
    return page.evaluate("""(id) => {
        for (const c of window.jupyterapp.shell.currentWidget.content.widgets) {
            if ((c.model.getMetadata('nbgrader') || {}).grade_id === id) return c.model.outputs.toJSON();
        }}""", grade_id)


def _shown_text(page, grade_id: str) -> str:
    """Scroll the cell into view and read its output area as drawn."""
    page.evaluate("""(id) => { const nb = window.jupyterapp.shell.currentWidget.content;
        const i = nb.widgets.findIndex(c => (c.model.getMetadata('nbgrader') || {}).grade_id === id);
        nb.activeCellIndex = i; nb.scrollToItem(i, 'center'); }""", grade_id)
    page.wait_for_timeout(500)
    return page.evaluate("""(id) => {
        for (const c of window.jupyterapp.shell.currentWidget.content.widgets) {
            if ((c.model.getMetadata('nbgrader') || {}).grade_id === id) return c.outputArea.node.innerText;
        }}""", grade_id)


def _run_all_until_settled(page, timeout: float = 240.0) -> None:
    """Run All as a student does: the kernel stops at the first failing cell, so
    'done' is: something ran, nothing is queued, the kernel is idle, for 1 s."""
    command(page, "notebook:run-all-cells")
    deadline, calm_since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        busy = page.evaluate("""() => {
            const w = window.jupyterapp.shell.currentWidget;
            const queued = w.content.widgets.some(c => c.model.type === 'code'
                && c.promptNode && c.promptNode.textContent.includes('*'));
            const ran = w.content.widgets.some(c => c.model.type === 'code' && c.model.executionCount);
            return queued || !ran || w.sessionContext.session.kernel.status !== 'idle';
        }""")
        calm_since = None if busy else (calm_since or time.monotonic())
        if calm_since and time.monotonic() - calm_since > 1.0:
            return
        time.sleep(0.25)
    raise TimeoutError(f"Run All did not settle within {timeout:.0f} s")


def test_a_student_sees_what_passed_and_what_to_fix(page, course_lab):
    tracked = (ROOT / NOTEBOOK).read_bytes()
    open_notebook(page, course_lab, NOTEBOOK)
    sources = dict(_cells(page))
    _set_source(page, "minibatch_indices", _fill(sources["minibatch_indices"], MINIBATCH))
    _set_source(page, "sgd_step", _fill(sources["sgd_step"], WRONG_SGD))
    started = time.monotonic()
    _run_all_until_settled(page)
    figure(f"Run All to the first failing test: {time.monotonic() - started:.1f} s")

    for cell in ("test_minibatch_indices_one_epoch", "test_minibatch_indices_reshuffled",
                 "test_sgd_step_plain"):
        outputs = _outputs(page, cell)
        assert any("passed" in "".join(o.get("text", "")) for o in outputs), (cell, outputs)
        assert not any(o["output_type"] == "error" for o in outputs), (cell, outputs)
    diagnosis = _shown_text(page, "test_sgd_step_weight_decay")
    lines = diagnosis.strip().splitlines()
    assert lines and lines[0].startswith("sgd_step: "), diagnosis
    assert MISTAKE in " ".join(diagnosis.split()), diagnosis
    assert not re.search(r"Traceback|File \"|descentlab/|---->", diagnosis), diagnosis
    shot(page, "student-01-run-all-diagnosis")

    # Validate, as a student clicks it (it saves the notebook first)
    command(page, "docmanager:save")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=180e3)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog').innerText"
                           ".includes('Validating')", timeout=180e3)
    text = dialog.inner_text()
    shot(page, "student-02-validate-dialog")
    for line in lines:  # the whole diagnosis, every line
        assert line.strip() in text, (line, text)
    assert "exponential_decay: not implemented yet" in text, text
    overflow = page.evaluate("""() => Array.from(document.querySelectorAll(
            '.jp-Dialog-body, .jp-Dialog-body *'))
        .filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible')
        .map(e => [e.tagName, e.className, e.scrollWidth, e.clientWidth])""")
    assert not overflow, f"the Validate dialog scrolls sideways: {overflow}"
    dialog.locator("button").last.click()

    wait_kernel_idle(page)
    assert (ROOT / NOTEBOOK).read_bytes() == tracked, "the repository's assignment was written"
    saved = (course_lab.work / NOTEBOOK).read_text()
    assert "weight_decay * w" in saved, "the student's work was not saved in work/"
    assert not page.course_errors, page.course_errors


def test_the_assignment_list_works(page, course_lab):
    _open_lab(page, course_lab)
    command(page, "nbgrader:open-assignment-list")
    panel = page.locator("#nbgrader-assignment-list, .nbgrader-AssignmentList, "
                         ".lm-DockPanel .lm-Widget:not(.lm-mod-hidden)").last
    names = sorted(p.name for p in (ROOT / "assignments").iterdir() if p.is_dir())
    page.wait_for_function("""(names) => { const t = document.body.innerText;
        return t.includes('Downloaded assignments') && !t.includes('Loading, please wait')
               && names.every(n => t.includes(n)); }""", arg=names, timeout=60e3)
    text = page.locator("body").inner_text()
    assert "Error fetching courses" not in text and "Error" not in panel.inner_text(), text
    shot(page, "student-03-assignment-list")
    assert not page.course_errors, page.course_errors


def test_the_formgrader_lists_the_graded_demo_class(page, course_lab):
    _open_lab(page, course_lab)
    command(page, "nbgrader:open-formgrader")
    frame = page.frame_locator("iframe").first
    frame.locator("td", has_text=ASSIGNMENT).first.wait_for(timeout=60e3)
    rows = frame.locator("tr").all_inner_texts()
    released = [r for r in rows if "released" in r]
    assert len(released) == len(list((ROOT / "assignments").glob("*/*.ipynb"))), rows
    ps1 = next(r for r in rows if ASSIGNMENT in r)
    assert re.search(rf"\b{len(DEMO_STUDENTS)}\b", ps1), ps1
    shot(page, "instructor-01-formgrader-assignments")

    page.goto(course_lab.url(f"formgrader/manage_submissions/{ASSIGNMENT}"))
    page.locator("td", has_text="kofi").first.wait_for(timeout=60e3)
    table = page.locator("table").inner_text()
    for student in DEMO_STUDENTS:
        assert student in table, table
    # the solution's written answer waits for the instructor; both are autograded
    assert "needs manual grading" in table.lower(), table
    expected = expected_rows()  # course/demo/expected.csv
    for student in DEMO_STUDENTS:
        score, total = expected[student, ASSIGNMENT]
        row = next(r for r in table.splitlines() if f"\t{student}\t" in r)
        assert f"{score:g} / {total:g}" in row, (student, row)
        # the name comes from the roster (course/demo/students.csv), as nbgrader shows it
        first, last = ROSTER[student]
        assert row.startswith(f"{last}, {first}\t"), (student, row)
    shot(page, "instructor-02-formgrader-submissions")
    assert not page.course_errors, page.course_errors


def _visible_validate(page, path: str) -> bool:
    """Whether the Validate button shows once ``path``'s tab is the current one
    (no kernel needed: the button is there before the kernel starts)."""
    # the style keys on the current tab's caption, which JupyterLab fills in once the
    # file is loaded: under load that comes a while after the tab itself
    page.wait_for_function("""(path) => {
        const w = window.jupyterapp.shell.currentWidget;
        const tab = document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current');
        return w && w.context && w.context.path === path
            && w.node.querySelector('.validate-button') !== null
            && tab !== null && (tab.title || '').includes('Path: ' + path);
    }""", arg=path, timeout=120e3)
    page.wait_for_timeout(300)  # let the style settle after the tab switch
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").is_visible()


def _open_without_waiting(page, path: str) -> None:
    """docmanager:open, not awaiting its promise (which waits for the kernel)."""
    page.evaluate("(p) => { window.jupyterapp.commands.execute('docmanager:open', {path: p}); }",
                  path)


def test_validate_is_hidden_on_a_lecture(page, course_lab):
    lecture = "lectures/01_gradient_descent.ipynb"
    # ?reset: a fresh workspace, not the tabs the other tests left open
    page.goto(course_lab.url(f"lab/tree/{lecture}?reset"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=120e3)
    assert not _visible_validate(page, lecture)
    shot(page, "student-04-lecture-without-validate")
    _open_without_waiting(page, NOTEBOOK)
    assert _visible_validate(page, NOTEBOOK)
    _open_without_waiting(page, lecture)
    assert not _visible_validate(page, lecture)
    assert not page.course_errors, page.course_errors
