"""Run a notebook in its own process, for the tests that execute notebooks.

The notebook is executed by ``python -m nbconvert --execute`` in a child process, not by an
nbclient in the test process: the kernel client's messages then never share an event loop,
threads or ZeroMQ context with what earlier tests left in the test process (an open Playwright
session, Dask clients, servers). Notebook runs in the test process hung now and then with kernel
and client both idle, each waiting for the other.
"""

import subprocess
import sys

import nbformat


def execute(notebook, folder, *, timeout=600, store_widget_state=True):
    """Execute ``notebook`` (an nbformat node) with the kernel's working folder ``folder``.

    The kernel inherits this process' environment. ``store_widget_state`` stays True for
    notebooks with output widgets: without it nbclient's output hook fails on their messages.
    Returns the executed notebook; raises AssertionError with the tail of nbconvert's report when
    a cell fails or the whole run takes more than 3 x ``timeout`` (the per-cell limit, s).
    """
    source = folder / "_executing.ipynb"
    nbformat.write(notebook, source)
    command = [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--output", source.name,
               f"--ExecutePreprocessor.timeout={int(timeout)}", "--ExecutePreprocessor.kernel_name=python3",
               f"--ExecutePreprocessor.store_widget_state={store_widget_state}", str(source)]
    try:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=3 * timeout)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"the notebook ran for more than {3 * timeout} s") from error
    assert done.returncode == 0, f"nbconvert --execute failed:\n{done.stderr[-6000:]}"
    executed = nbformat.read(source, as_version=4)
    source.unlink()
    return executed
