"""The harness itself: JupyterLab starts, a lecture opens in Chromium, Run All
finishes, and the server stops with its kernels."""

from .jlab import figure, kernel_eval, open_notebook, run_all, shot


def test_lecture_runs_in_chromium(page, lecture_lab):
    open_notebook(page, lecture_lab, "lectures/01_gradient_descent.ipynb")
    first_plot = run_all(page)
    figure(f"01_gradient_descent: Run All to first plot {first_plot:.1f} s")
    shot(page, "smoke-01-after-run-all")
    assert kernel_eval(page, "print(1 + 1)").strip() == "2"
    assert page.locator(".jp-OutputArea-output img").count() > 0
    assert not page.course_errors, page.course_errors
