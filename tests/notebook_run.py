"""Run a notebook in its own process, for the tests that execute notebooks.

The notebook is executed by ``python -m nbconvert --execute`` in a child process, not by an
nbclient in the test process: the kernel client's messages then never share an event loop,
threads or ZeroMQ context with what earlier tests left in the test process (an open Playwright
session, Dask clients, servers). Notebook runs in the test process hung now and then with kernel
and client both idle, each waiting for the other.

Runs in a child process hung that way too, rarely (three times in recent CI runs,
always in 00_overview, with ipykernel 7.4 and 6.31 alike; py-spy: nbconvert waiting for a cell's
reply, the kernel idle with nothing running; cause not found). A cell that times out is
therefore run once more, in a new kernel, and the retry is printed; a notebook that fails or
times out twice fails the test. The cell limit is 180 s, three times the minute a whole notebook
is allowed.
"""

import subprocess
import sys

import nbformat


def execute(notebook, folder, *, timeout=180, store_widget_state=True):
    """Execute ``notebook`` (an nbformat node) with the kernel's working folder ``folder``.

    The kernel inherits this process' environment. ``store_widget_state`` stays True for
    notebooks with output widgets: without it nbclient's output hook fails on their messages.
    Returns the executed notebook; raises AssertionError with the tail of nbconvert's report when
    a cell fails, or when a cell takes more than ``timeout`` (s) in two runs.
    """
    source = folder / "_executing.ipynb"
    command = [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--output", source.name,
               f"--ExecutePreprocessor.timeout={int(timeout)}", "--ExecutePreprocessor.kernel_name=python3",
               f"--ExecutePreprocessor.store_widget_state={store_widget_state}", str(source)]
    for attempt in (1, 2):
        nbformat.write(notebook, source)
        try:
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=20 * timeout)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"the notebook ran for more than {20 * timeout} s") from error
        timed_out = done.returncode != 0 and "CellTimeoutError" in done.stderr
        if not (timed_out and attempt == 1):
            break
        print(f"a cell of {folder.name} timed out after {timeout} s; running the notebook once more")
    assert done.returncode == 0, f"nbconvert --execute failed:\n{done.stderr[-6000:]}"
    executed = nbformat.read(source, as_version=4)
    source.unlink()
    return executed
