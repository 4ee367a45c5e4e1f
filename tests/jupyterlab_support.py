"""A real JupyterLab for the browser tests: a server on 127.0.0.1 with a token and isolated
settings, and the few page actions a test needs (open a notebook, run all cells, read errors).

The server runs this venv's ``jupyter lab`` in its own process group; its config, data, runtime,
settings, workspaces and HOME directories live under the test's tmp folder, so nothing the
developer configured leaks in and nothing is written outside tmp. The venv's own
``share/jupyter`` (the python3 kernelspec and the jupyterlab_widgets extension) comes first on
Jupyter's data path whatever JUPYTER_DATA_DIR says, so widgets still render.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

#: Plugins that would put a toast or a dialog over the page (news, update checks).
QUIET = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}
#: True when every code cell has run: each prompt shows a number, none a ``*`` (queued/running).
ALL_RAN = ("Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
           ".every(e => /\\[\\d+\\]/.test(e.textContent))")
#: Output areas that show a Python traceback (JupyterLab renders an error as stderr).
ERROR_OUTPUTS = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"


@dataclass
class Lab:
    """A running server: ``url`` (no trailing slash), ``token``, ``root`` (the notebook folder)."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def page(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{quote(notebook)}?token={self.token}"

    def stop(self) -> None:
        """Stop the server and its kernels: SIGTERM to the process group, SIGKILL after 10 s."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def isolated_env(home: Path) -> dict[str, str]:
    """Environment for the server: every Jupyter/IPython settings folder under ``home``."""
    dirs = {"HOME": "home", "JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime", "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces", "IPYTHONDIR": "ipython",
            "MPLCONFIGDIR": "matplotlib", "XDG_CACHE_HOME": "cache"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    for key, name in dirs.items():
        (home / name).mkdir(parents=True, exist_ok=True)
        env[key] = str(home / name)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # the kernel must be this interpreter (the kernelspec runs `python` from PATH)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    labconfig = home / "config" / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(QUIET), encoding="utf-8")
    return env


def start_lab(root: Path, home: Path, *, timeout: float = 60) -> Lab:
    """``jupyter lab`` serving ``root`` on 127.0.0.1, ready to use (``/api/status`` answers)."""
    port, token = free_port(), secrets.token_hex(16)
    env, log = isolated_env(home), home / "jupyterlab.log"
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            "--port-retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None", "--ServerApp.terminals_enabled=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:  # containers and CI run as root
        args.append("--allow-root")
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=root, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    return lab
        except OSError:
            pass
        if time.monotonic() > deadline:
            lab.stop()
            raise RuntimeError(f"jupyter lab did not answer in {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def local_only(context, lab: Lab, seen: dict) -> None:
    """Abort every request of ``context`` that is not to the server's host; record both kinds."""
    host = urlsplit(lab.url).netloc

    def route(route):
        url = route.request.url
        seen["requests"].append(url)
        if urlsplit(url).netloc == host:
            route.continue_()
        else:
            seen["blocked"].append(url)
            route.abort()

    context.route("**/*", route)


def open_notebook(tab, lab: Lab, notebook: str, *, timeout: float = 60_000) -> None:
    """Open ``notebook`` (JupyterLab starts its kernel) and wait until the kernel is ready."""
    tab.goto(lab.page(notebook))
    tab.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=timeout)
    wait_idle(tab, timeout=timeout)


#: True once the current notebook's kernel is connected, ready and idle (window.jupyterapp is there
#: because the server runs with ``--LabApp.expose_app_in_browser``).
KERNEL_READY = """() => {
    const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const ctx = panel && panel.sessionContext;
    const kernel = ctx && ctx.session && ctx.session.kernel;
    return !!(ctx && ctx.isReady && kernel && kernel.connectionStatus === 'connected'
              && kernel.status === 'idle');
}"""


def wait_idle(tab, *, timeout: float = 60_000) -> None:
    """Until the open notebook's kernel is connected and idle (and the toolbar says so)."""
    tab.wait_for_function(KERNEL_READY, timeout=timeout)
    tab.wait_for_selector(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
                          timeout=timeout)


def menu(tab, *path: str) -> None:
    """Click through the main menu: ``menu(tab, "Run", "Run All Cells")``."""
    tab.locator("#jp-MainMenu").get_by_role("menuitem", name=path[0], exact=True).click()
    for item in path[1:]:
        tab.locator(".lm-Menu").get_by_role("menuitem", name=item, exact=False).first.click()


def run_all(tab, *, timeout: float = 120) -> None:
    """Run > Run All Cells, then wait (``timeout`` seconds) until no cell is queued or running.

    Clicked before the notebook's session is ready (the toolbar may already say idle),
    JupyterLab 4.6 answers Run All with its "Select Kernel" dialog and then runs nothing;
    :func:`wait_idle` waits for the session, and should the dialog still come, its default
    (the notebook's kernel) is accepted as a user would.
    """
    menu(tab, "Run", "Run All Cells")
    choose = tab.locator(".jp-Dialog").get_by_role("button", name="Select")
    deadline = time.monotonic() + timeout
    while not tab.evaluate(ALL_RAN):
        if choose.count() and choose.is_visible():
            choose.click()
        if time.monotonic() > deadline:
            raise TimeoutError(f"cells still running after {timeout} s")
        time.sleep(0.25)
    wait_idle(tab, timeout=timeout * 1000)


def error_outputs(tab) -> list[str]:
    """Text of every output that shows a Python error (stderr outputs with a traceback)."""
    texts = tab.eval_on_selector_all(ERROR_OUTPUTS, "els => els.map(e => e.innerText)")
    return [t for t in texts if "Traceback" in t or "Error" in t]
