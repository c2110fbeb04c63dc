"""Executing notebooks headless, as CI and ``descentlab lectures`` do.

Lectures are committed without outputs; this runs each one top to bottom in
a fresh kernel with nbclient, times it, and reports the first failing cell.
Executed copies can be kept (``keep=...``) for reading; the committed
notebooks are never written.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Run", "execute", "execute_all", "LECTURES"]

LECTURES = Path(__file__).resolve().parents[2] / "lectures"

#: seconds any single cell may take before the run counts as failed
CELL_TIMEOUT = 300

#: numpy's OpenBLAS threads for lecture kernels.  The lectures multiply small
#: matrices (minibatches of 32 through a 64-unit MLP), where a second BLAS
#: thread only spins: lecture 03's grid of 18 trainings measured 10.9 s wall
#: and 1.9 s CPU per training with OpenBLAS's default on a busy 2-core
#: machine, 1.6 s wall and 0.22 s CPU with one thread.  (A caller's own
#: OPENBLAS_NUM_THREADS wins.)
SMALL_BLAS_THREADS = "1"


@dataclass
class Run:
    notebook: Path
    seconds: float
    error: str | None = None  # the failing cell's error, or None

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(path: Path, *, timeout: int = CELL_TIMEOUT, keep: Path | None = None) -> Run:
    """Run one notebook in a fresh kernel, in its own folder."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    # the kernel must be this interpreter (the venv's), and plots need no screen
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", SMALL_BLAS_THREADS)
    # the kernel's own log (its warning about local TCP) is not the lecture's output
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
    except (CellTimeoutError, DeadKernelError, TimeoutError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(keep / path.name))
    return Run(path, seconds, error)


def execute_all(folder: Path = LECTURES, *, timeout: int = CELL_TIMEOUT,
                keep: Path | None = None, progress: bool = True) -> list[Run]:
    from tqdm.auto import tqdm

    notebooks = sorted(Path(folder).glob("[0-9]*.ipynb"))
    runs = []
    bar = tqdm(notebooks, desc="lectures", unit="nb", disable=not progress, leave=False)
    for path in bar:
        bar.set_postfix_str(path.name)
        runs.append(execute(path, timeout=timeout, keep=keep))
    return runs


def table(runs: list[Run]) -> str:
    from .bench import table as render

    rows = [[r.notebook.name, f"{r.seconds:.1f} s", "ok" if r.ok else f"FAILED: {r.error}"]
            for r in runs]
    rows.append(["total", f"{sum(r.seconds for r in runs):.1f} s", ""])
    return render(["lecture", "time", "result"], rows)
