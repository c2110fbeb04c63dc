"""The lectures' explorers in Chromium: what the page shows is what the code set.

Lecture 02 runs once (Run All) and its page is shared by the tests of this
module, in order: exact values after Run All, the picture against the
kernel's state, the lr slider moved by keyboard (with the latency printed)
and by mouse, and a click on the map.  Lecture 03 runs up to its saddle
explorer and the printout under it.

The kernel's exact values are read with ``kernel_eval``; the page's with
Playwright.  Nothing here asserts a wall-clock time: latencies are printed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
import time

import pytest

from .jlab import figure, command, kernel_eval, open_notebook, run_all, shot, wait_kernel_idle

LECTURE_02 = "lectures/02_momentum.ipynb"
LECTURE_03 = "lectures/03_adaptive.ipynb"

def cell_of(path: str, pattern: str) -> int:
    """The index of the first code cell whose source matches ``pattern``: the
    lectures gain cells, so the tests find theirs by what they hold."""
    import nbformat

    from .conftest import ROOT

    nb = nbformat.read(str(ROOT / path), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and re.search(pattern, cell.source, re.M):
            return i
    raise AssertionError(f"no cell of {path} matches {pattern!r}")


# What lecture 02's cells set (read off the cells' source, not from our code's output)
LECTURE_02_EXPLORERS = {
    "ravine": (cell_of(LECTURE_02, r"^ravine = "), {"x": -5.5, "y": 1.5, "steps": 150, "momentum": 0.9}),
    "goh": (cell_of(LECTURE_02, r"^goh = "), {"lr": 1.0, "momentum": 0.9, "kappa": 100.0, "steps": 150}),
    "nesterov": (cell_of(LECTURE_02, r"^nesterov = "), {"kappa": 50.0, "steps": 120, "momentum": 0.95, "lr SGD+momentum": 1.0,
                      "lr SGD+Nesterov": 1.0}),
    "escape": (cell_of(LECTURE_02, r"^escape = "), {"x": 1.8, "y": 1.8, "steps": 300, "momentum": 0.9, "lr SGD": 0.1,
                    "lr SGD+momentum": 0.1}),
}

# Run once in the kernel: an explorer's exact values, its text boxes in the
# order the page draws them, and a hash of the picture it last sent.
STATE = r"""
def _dl_state(e):
    import hashlib, json
    import ipywidgets as W
    texts = []
    def walk(w):
        if isinstance(w, W.Text):
            texts.append(w.value)
        for child in getattr(w, "children", ()):
            walk(child)
    walk(e.widget)
    values = {k: c.value for k, c in e.controls.items() if c.kind != "choice"}
    return json.dumps({"values": values, "texts": texts,
                       "picture": hashlib.sha256(e.image.value).hexdigest()})
"""


def _new_page(browser):
    from .conftest import IGNORED_CONSOLE

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" and not any(s in m.text for s in IGNORED_CONSOLE) else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.course_errors = errors
    return context, page


def cell_node(page, index: int):
    """The DOM node of cell ``index``, scrolled into view (JupyterLab draws
    only the cells near the viewport)."""
    page.evaluate("""async (i) => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = i;
        await nb.scrollToItem(i, 'start');
    }""", index)
    handle = page.evaluate_handle(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].node", index)
    return handle.as_element()


def explorer_image(page, index: int):
    node = cell_node(page, index)
    page.wait_for_function("(n) => n.querySelector('.jp-OutputArea-output img')", arg=node,
                           timeout=60_000)
    return node, node.query_selector(".jp-OutputArea-output img")


def picture_hash(page, img) -> str:
    """SHA-256 of the bytes the page's <img> shows (its blob URL)."""
    data = page.evaluate("""async (img) => {
        const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let s = ''; for (const b of buf) s += String.fromCharCode(b);
        return btoa(s);
    }""", img)
    import base64

    return hashlib.sha256(base64.b64decode(data)).hexdigest()


def state(page, name: str) -> dict:
    return json.loads(kernel_eval(page, f"print(_dl_state({name}))"))


def settle(page, seconds: float = 1.0) -> None:
    """Let late front-end messages (slider echoes) reach the kernel."""
    time.sleep(seconds)
    wait_kernel_idle(page)


def slider(node, description: str):
    for s in node.query_selector_all(".widget-slider"):
        label = s.query_selector(".widget-label")
        if label and label.inner_text().strip() == description:
            return s
    raise AssertionError(f"no slider {description!r} in the cell")


def timed_press(page, img, key: str) -> float:
    """Milliseconds from the key press to the new picture decoded."""
    page.evaluate("""(img) => {
        window.__dlLatency = new Promise((resolve) => {
            let t0 = null;
            document.addEventListener('keydown', () => { t0 = performance.now(); },
                                      {capture: true, once: true});
            const obs = new MutationObserver(async () => {
                obs.disconnect();
                try { await img.decode(); } catch (e) {}
                resolve(performance.now() - t0);
            });
            obs.observe(img, {attributes: true, attributeFilter: ['src']});
            setTimeout(() => { obs.disconnect(); resolve(-1); }, 15000);
        });
    }""", img)
    page.keyboard.press(key)
    return page.evaluate("() => window.__dlLatency")


@pytest.fixture(scope="module")
def lecture02(browser, lecture_lab):
    context, page = _new_page(browser)
    open_notebook(page, lecture_lab, LECTURE_02)
    first_plot = run_all(page)
    figure(f"\n02_momentum: Run All to first plot {first_plot:.1f} s")
    kernel_eval(page, STATE)
    yield page
    shot(page, "explorers-02-last")
    context.close()


def test_lecture02_explorers_show_exactly_what_the_code_set(lecture02):
    page = lecture02
    for name, (index, expected) in LECTURE_02_EXPLORERS.items():
        node, img = explorer_image(page, index)
        settle(page)  # its views are drawn now: their echoes have come back
        s = state(page, name)
        for key, value in expected.items():
            assert s["values"][key] == value, (name, key, s["values"][key], value)
        # every text box the page shows holds the kernel's exact value
        shown = [i.input_value() for i in node.query_selector_all(
            ".jp-OutputArea-output input[type='text']")]
        assert shown == s["texts"], (name, shown, s["texts"])
        assert set(s["texts"]) >= {repr(float(v)) if isinstance(v, float) else str(v)
                                   for v in expected.values()}
        # and the picture the page shows is the last one the kernel drew
        assert picture_hash(page, img) == s["picture"], name
        shot(page, f"explorers-02-{name}")
    # the printout under goh.set(lr=1.0, momentum=0.9) is the kernel's state
    out = cell_node(page, cell_of(LECTURE_02, r"goh\.set\(lr=1\.0")).query_selector(
        ".jp-OutputArea").inner_text()
    rates = json.loads(kernel_eval(page, "import json; print(json.dumps(goh.rates))"))
    assert f"rates = ({rates[0]:.4f}, {rates[1]:.4f})" in out, out
    assert not page.course_errors, page.course_errors


def test_lecture02_lr_slider_by_keyboard_and_mouse(lecture02):
    page = lecture02
    node, img = explorer_image(page, LECTURE_02_EXPLORERS["ravine"][0])  # SGD and SGD+momentum
    lr0 = state(page, "ravine")["values"]["lr SGD"]
    handle = slider(node, "lr SGD").query_selector(".noUi-handle")
    handle.focus()
    before = picture_hash(page, img)
    latencies = [timed_press(page, img, "ArrowRight") for _ in range(7)]
    settle(page, 0.5)
    s = state(page, "ravine")
    # seven steps of 0.02 decades up from the grid point nearest lr0
    start = round((math.log10(lr0) + 5) / 0.02) * 0.02 - 5
    assert math.log10(s["values"]["lr SGD"]) == pytest.approx(start + 7 * 0.02, abs=1e-9)
    assert s["texts"].count(repr(s["values"]["lr SGD"])) == 1
    after = picture_hash(page, img)
    assert after != before and after == s["picture"]
    ok = [t for t in latencies if t >= 0]
    figure(f"02 ravine, 2 optimizers x 150 steps: key press to new picture, median "
          f"{statistics.median(ok):.0f} ms over {len(ok)} presses "
          f"(all: {', '.join(f'{t:.0f}' for t in latencies)} ms)")
    assert len(ok) == len(latencies) and statistics.median(ok) < 5000  # sanity only
    shot(page, "explorers-02-ravine-after-keys")

    # the mouse: drag the handle 40 px to the left
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 - 40, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    settle(page, 1.0)
    moved = state(page, "ravine")
    lr = moved["values"]["lr SGD"]
    assert lr < s["values"]["lr SGD"]
    steps = (math.log10(lr) + 5) / 0.02  # where the student put it: on the slider's grid
    assert steps == pytest.approx(round(steps), abs=1e-6)
    assert picture_hash(page, img) == moved["picture"] != after
    shot(page, "explorers-02-ravine-after-drag")
    assert not page.course_errors, page.course_errors


def test_lecture02_latency_four_optimizers_by_500_steps(lecture02):
    """The issue's target case: 4 optimizers x 500 steps on Rosenbrock."""
    page = lecture02
    code = ("from descentlab.widgets import SurfaceExplorer\n"
            "race = SurfaceExplorer('rosenbrock', optimizers=['SGD', 'SGD+momentum', 'Adam', "
            "'RMSprop'], steps=500)\nrace")
    # a new cell at the end of the notebook
    count = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets.length")
    cell_node(page, count - 1)
    command(page, "notebook:insert-cell-below")
    page.evaluate("""(code) => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCell.model.sharedModel.setSource(code);
    }""", code)
    command(page, "notebook:run-cell")
    wait_kernel_idle(page)
    node, img = explorer_image(page, count)
    settle(page)
    handle = slider(node, "lr Adam").query_selector(".noUi-handle")
    handle.focus()
    latencies = [timed_press(page, img, key) for key in ["ArrowRight"] * 6 + ["ArrowLeft"] * 6]
    timings = json.loads(kernel_eval(page, "import json; print(json.dumps(race.timings))"))
    ok = [t for t in latencies if t >= 0]
    figure(f"rosenbrock, 4 optimizers x 500 steps: key press to new picture, median "
          f"{statistics.median(ok):.0f} ms over {len(ok)} presses "
          f"(all: {', '.join(f'{t:.0f}' for t in latencies)} ms); last update in the kernel: "
          + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in timings.items()))
    shot(page, "explorers-02-race-after-keys")
    assert len(ok) == len(latencies) and statistics.median(ok) < 5000  # sanity only
    assert not page.course_errors, page.course_errors


def test_lecture02_click_on_the_map_moves_the_start(lecture02):
    page = lecture02
    node, img = explorer_image(page, LECTURE_02_EXPLORERS["escape"][0])  # the two wells
    settle(page, 0.5)
    before = state(page, "escape")
    # where the kernel's figure draws the data point (0.6, -1.2), in image pixels
    px = json.loads(kernel_eval(page, """
import json
_dx, _dy = escape.ax_path.transData.transform((0.6, -1.2))
_w, _h = escape.figure.canvas.get_width_height()
print(json.dumps([_dx, _h - _dy, _w, _h]))"""))
    img.scroll_into_view_if_needed()
    box = img.bounding_box()
    x = box["x"] + px[0] * box["width"] / px[2]
    y = box["y"] + px[1] * box["height"] / px[3]
    page.mouse.click(x, y)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        after = state(page, "escape")
        if after["values"]["x"] != before["values"]["x"]:
            break
        time.sleep(0.3)
    settle(page, 0.5)
    after = state(page, "escape")
    # one CSS pixel of the drawn map, in data units: the click's resolution
    unit = json.loads(kernel_eval(page, """
import json
_b = escape.ax_path.bbox
print(json.dumps([float(__import__('numpy').diff(escape.ax_path.get_xlim())[0] / _b.width),
                  float(__import__('numpy').diff(escape.ax_path.get_ylim())[0] / _b.height)]))"""))
    scale = px[2] / box["width"]
    assert after["values"]["x"] == pytest.approx(0.6, abs=1.5 * unit[0] * scale)
    assert after["values"]["y"] == pytest.approx(-1.2, abs=1.5 * unit[1] * scale)
    assert after["picture"] != before["picture"]
    assert picture_hash(page, img) == after["picture"]
    img.scroll_into_view_if_needed()
    shot(page, "explorers-02-escape-after-click")
    assert not page.course_errors, page.course_errors


def test_lecture03_saddle_paths_escape_as_printed(browser, lecture_lab):
    context, page = _new_page(browser)
    try:
        open_notebook(page, lecture_lab, LECTURE_03)
        # Run All up to the saddle explorer and its printout: the
        # later cells train MLPs for minutes and do not touch the saddle
        t0 = time.monotonic()
        saddle = cell_of(LECTURE_03, r"^saddle = ")
        cell_node(page, saddle + 2)
        command(page, "notebook:run-all-above")
        page.wait_for_function("""() => {
            const w = window.jupyterapp.shell.currentWidget;
            const cells = w.content.widgets.slice(0, SADDLE + 2).filter(c => c.model.type === 'code');
            return cells.every(c => c.model.executionCount !== null
                               && !c.promptNode.textContent.includes('*'))
                && w.sessionContext.session.kernel.status === 'idle';
        }""".replace("SADDLE", str(saddle)), timeout=300_000, polling=250)
        figure(f"\n03_adaptive: cells up to the saddle explorer ran in {time.monotonic() - t0:.1f} s")
        kernel_eval(page, STATE)
        node, img = explorer_image(page, saddle)
        settle(page, 1.5)
        s = state(page, "saddle")
        import descentlab.surfaces as S

        assert (s["values"]["x"], s["values"]["y"]) == S.saddle().start  # (-1.8, 1e-3)
        printed = cell_node(page, saddle + 1).query_selector(".jp-OutputArea").inner_text()
        escape = json.loads(kernel_eval(page, """
import json, numpy as np
print(json.dumps({l: int(np.flatnonzero(np.abs(saddle.paths[l][:, 1]) > 1.0)[0])
                  if np.any(np.abs(saddle.paths[l][:, 1]) > 1.0) else None
                  for l in saddle.selected}))"""))
        assert len(escape) == 5
        for label, step in escape.items():
            assert step is not None, f"{label} did not escape in the kernel"
            assert f"{label:13s} |y| > 1 after {step} steps;" in printed, (label, printed)
        assert picture_hash(page, img) == s["picture"]
        cell_node(page, saddle)
        shot(page, "explorers-03-saddle")
        img.scroll_into_view_if_needed()
        shot(page, "explorers-03-saddle-picture")
        assert not page.course_errors, page.course_errors
    finally:
        context.close()
