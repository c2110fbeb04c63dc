"""descentlab.notebooks: the headless runner behind `descentlab lectures`."""

import nbformat

from descentlab.notebooks import execute, execute_all, table


def write(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


def test_a_good_notebook_runs_and_the_committed_file_is_untouched(tmp_path):
    path = write(tmp_path / "01_ok.ipynb", "x = 2", "print(x * 21)")
    before = path.read_bytes()
    run = execute(path, keep=tmp_path / "out")
    assert run.ok and run.seconds > 0
    assert path.read_bytes() == before
    kept = nbformat.read(str(tmp_path / "out" / "01_ok.ipynb"), as_version=4)
    assert kept.cells[1].outputs[0]["text"] == "42\n"


def test_a_failing_cell_is_reported_and_the_next_notebook_still_runs(tmp_path):
    write(tmp_path / "01_bad.ipynb", "1 / 0")
    write(tmp_path / "02_ok.ipynb", "pass")
    runs = execute_all(tmp_path, progress=False)
    assert [r.ok for r in runs] == [False, True]
    assert "ZeroDivisionError" in runs[0].error
    assert "FAILED" in table(runs) and "total" in table(runs)


def test_a_cell_that_runs_too_long_fails_the_run(tmp_path):
    path = write(tmp_path / "01_slow.ipynb", "import time\ntime.sleep(30)")
    run = execute(path, timeout=2)
    assert not run.ok and run.seconds < 25


def test_lecture_kernels_get_one_blas_thread_unless_the_caller_chose(tmp_path, monkeypatch):
    """The kernel's numpy really runs OpenBLAS with the thread count set."""
    code = ("from threadpoolctl import threadpool_info\n"
            "print([p['num_threads'] for p in threadpool_info() if p['internal_api'] == 'openblas'])")
    path = write(tmp_path / "01_threads.ipynb", "import numpy", code)
    for chosen, expected in ((None, "[1]"), ("2", "[2]")):
        if chosen is None:
            monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
        else:
            monkeypatch.setenv("OPENBLAS_NUM_THREADS", chosen)
        run = execute(path, keep=tmp_path / "out")
        assert run.ok, run.error
        kept = nbformat.read(str(tmp_path / "out" / path.name), as_version=4)
        assert kept.cells[1].outputs[0]["text"].strip() == expected
