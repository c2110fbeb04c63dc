"""Driving JupyterLab in Debian's Chromium, as a student or an instructor would.

A :class:`LabServer` is a real ``jupyter lab`` on 127.0.0.1 and a free port,
started in its own process group and stopped by its PID.  The browser is
Playwright's Chromium API over the system's ``/usr/bin/chromium`` (never a
downloaded build: ``playwright install`` needs a network this project does
not have).

JupyterLab is started with ``expose_app_in_browser`` so a test can run a
notebook's commands (``notebook:run-all-cells``) the way the menu does, and
read the kernel's state, without depending on where a button is drawn.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = os.environ.get("DESCENTLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VENV_BIN = Path(sys.executable).parent


FIGURES = ARTIFACTS / "figures.txt"


def figure(line: str) -> None:
    """Print a measured figure (latency, Run All time) and keep it for the
    session's summary: under pytest-xdist a worker's prints are not shown,
    so conftest's terminal summary prints this file at the end of the run."""
    print(line)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(FIGURES, "a") as f:
        f.write(line.strip() + "\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` serving ``root``; ``url(path)`` gives an authenticated URL.

    ``command`` replaces the default launch (for example ``make lab``'s own
    command line); it must accept the port, IP and token that are appended.
    """

    def __init__(self, root: Path, *, cwd: Path | None = None, env: dict | None = None,
                 command: list[str] | None = None, timeout: float = 90.0):
        self.root = Path(root)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = dict(os.environ)
        full_env["PATH"] = f"{VENV_BIN}{os.pathsep}{full_env.get('PATH', '')}"
        full_env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
        # a workspace of its own: a shared one reopens the notebooks an earlier
        # server had open, and a hidden .jp-Notebook then answers selectors
        full_env.setdefault("JUPYTERLAB_WORKSPACES_DIR", tempfile.mkdtemp(prefix="lab-ws-"))
        if env:
            full_env.update(env)
        argv = command or [str(VENV_BIN / "jupyter"), "lab", f"--ServerApp.root_dir={self.root}"]
        argv = argv + [
            "--no-browser", "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={self.token}", "--LabApp.expose_app_in_browser=True",
            "--ServerApp.disable_check_xsrf=False",
        ]
        if os.geteuid() == 0 and "--allow-root" not in argv:
            argv.append("--allow-root")
        self.log_path = ARTIFACTS / f"jupyter-{self.port}.log"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(argv, cwd=cwd or self.root, env=full_env,
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self._wait(timeout)

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str):
        with urllib.request.urlopen(self.url(f"api/{path}"), timeout=10) as r:
            return json.loads(r.read())

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}; "
                                   f"log:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.api("status")
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s; "
                           f"log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop the server and every kernel it started (the whole process group)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=15)
        self._log.close()


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


# -- driving the page --------------------------------------------------------------

def open_notebook(page, server: LabServer, relpath: str, *, timeout: float = 120.0) -> None:
    """Open ``relpath`` (relative to the server's root) and wait for its kernel."""
    # ?reset: a fresh workspace, not the notebooks an earlier page left open
    # (their hidden .jp-Notebook would answer the selector below)
    page.goto(server.url(f"lab/tree/{relpath}?reset"))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=timeout * 1e3)
    page.wait_for_selector(".jp-Notebook", timeout=timeout * 1e3)
    wait_kernel_idle(page, timeout=timeout)


_CURRENT = "window.jupyterapp.shell.currentWidget"


def kernel_status(page) -> str:
    return page.evaluate(f"""() => {{
        const w = {_CURRENT};
        const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
        return k ? k.status : 'none';
    }}""")


def wait_kernel_idle(page, *, timeout: float = 120.0) -> None:
    page.wait_for_function(f"""() => {{
        const w = {_CURRENT};
        if (!w || !w.sessionContext || !w.sessionContext.isReady) return false;
        const k = w.sessionContext.session && w.sessionContext.session.kernel;
        return k && k.status === 'idle';
    }}""", timeout=timeout * 1e3)


def command(page, name: str, args: dict | None = None):
    """Run a JupyterLab command (what a menu entry or shortcut does)."""
    return page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])


def run_all(page, *, timeout: float = 300.0) -> float:
    """Run All, then wait until every code cell has run and the kernel is idle.

    Returns the seconds from Run All to the first image output on the page.
    """
    page.evaluate(f"() => {_CURRENT}.content.activeCellIndex = 0")
    start = time.monotonic()
    command(page, "notebook:run-all-cells")
    first_plot = None
    deadline = start + timeout
    while time.monotonic() < deadline:
        if first_plot is None and page.locator(
                ".jp-OutputArea-output img, .jp-OutputArea-output canvas").count():
            first_plot = time.monotonic() - start
        done = page.evaluate(f"""() => {{
            const nb = {_CURRENT}.content;
            const k = {_CURRENT}.sessionContext.session.kernel;
            const pending = nb.widgets.some(c => c.model.type === 'code'
                && (c.model.executionCount === null || c.promptNode.textContent.includes('*')));
            return !pending && k.status === 'idle';
        }}""")
        if done:
            break
        time.sleep(0.25)
    else:
        raise TimeoutError(f"Run All did not finish within {timeout:.0f} s")
    if first_plot is None:
        first_plot = float("nan")
    return first_plot


def cell_errors(page) -> list[str]:
    """Text of every error output in the current notebook."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']"
                        ).all_inner_texts()


def kernel_eval(page, code: str, *, timeout: float = 60.0) -> str:
    """Run ``code`` silently in the notebook's kernel and return its stdout.

    This is how a test reads what the kernel holds (the exact values) to set
    against what the page shows.
    """
    return page.evaluate("""async ([code, timeout]) => {
        const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        let out = '';
        const future = k.requestExecute({code, silent: false, store_history: false});
        future.onIOPub = (msg) => {
            if (msg.header.msg_type === 'stream') out += msg.content.text;
            if (msg.header.msg_type === 'error') out += 'ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
        };
        await future.done;
        return out;
    }""", [code, timeout])


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
