"""Start `make lab` headless on 127.0.0.1 for the lab and browser tests, and stop it again."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

# JupyterLab's news pop-up would cover the notebook; the plugin is disabled for the test server only.
DISABLED_LAB_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)


def free_port():
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _private_lab_state(folder):
    """Settings, workspaces and page config for one test server, all inside ``folder``.

    Returns the extra ``LAB_ARGS`` and the ``JUPYTER_CONFIG_PATH`` entry that point at them, so
    the user's own JupyterLab settings and workspaces are neither read nor written.
    """
    labconfig = folder / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in DISABLED_LAB_PLUGINS}}))
    args = f"--LabApp.user_settings_dir={folder / 'settings'} --LabApp.workspaces_dir={folder / 'workspaces'}"
    return args, str(folder / "config")


def _wait_until_answering(process, base_url, token, timeout_s):
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"make lab exited early with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer on {base_url} within {timeout_s} s")
            time.sleep(0.5)


@contextmanager
def running_lab(project_root, *, notebook_dir="notebooks", timeout_s=120):
    """Run ``make lab`` with a fixed token on a free local port; yield its base URL and token.

    ``notebook_dir`` is the folder JupyterLab opens (``make lab``'s default otherwise). The server
    keeps its settings and workspaces in a temporary folder and has the news pop-up disabled. It
    runs in its own process group so that stopping it also stops the kernels. Its log is
    ``.cache/lab-test.log``, for reading when a test fails.
    """
    port = free_port()
    token = "lrs-helpers-test"
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="lab-state-") as state:
        state_args, config_path = _private_lab_state(Path(state))
        lab_args = (
            f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
            "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate "
            # Lets the browser test call JupyterLab commands (window.jupyterapp) instead of menus.
            f"--LabApp.expose_app_in_browser=True {state_args}"
        )
        env = dict(os.environ)
        env.pop("MPLBACKEND", None)
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [config_path, env.get("JUPYTER_CONFIG_PATH")]))
        (project_root / ".cache").mkdir(exist_ok=True)
        with open(project_root / ".cache" / "lab-test.log", "w") as log:
            process = subprocess.Popen(
                ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}", f"LAB_DIR={notebook_dir}"],
                cwd=project_root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                _wait_until_answering(process, base_url, token, timeout_s)
                yield base_url, token
            finally:
                _stop(process)


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
