"""Start `make lab` headless on 127.0.0.1 for the lab and browser tests, and stop it again."""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager


def free_port():
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_lab(project_root, *, notebook_dir="notebooks", timeout_s=120):
    """Run ``make lab`` with a fixed token on a free local port; yield its base URL and token.

    ``notebook_dir`` is the folder JupyterLab opens (``make lab``'s default otherwise). The server
    runs in its own process group so that stopping it also stops the kernels.
    """
    port = free_port()
    token = "lrs-helpers-test"
    lab_args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
        "--LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate "
        # Lets the browser test call JupyterLab commands (window.jupyterapp) instead of menus.
        "--LabApp.expose_app_in_browser=True"
    )
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    # The server's own log, for reading when a test fails.
    (project_root / ".cache").mkdir(exist_ok=True)
    log = open(project_root / ".cache" / "lab-test.log", "w")
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}", f"LAB_DIR={notebook_dir}"],
        cwd=project_root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"make lab exited early with status {process.returncode}")
            try:
                with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer on {base_url} within {timeout_s} s")
                time.sleep(0.5)
        yield base_url, token
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
