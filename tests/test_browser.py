"""Run walkthroughs in JupyterLab in headless Chromium (Playwright) and move their explorers.

Each test opens one notebook from a temporary copy (the browser never saves over the committed
notebooks), waits for its kernel session, runs all cells, checks that no cell shows an error or
stderr output, then moves the explorer's main slider with the keyboard and checks that the
explorer's output follows it. Screenshots go to ``test-artifacts/`` at the project root: before
and after the move, and the page as it was when a test failed.

The browser is Debian's Chromium (``make system-deps``) or one Playwright installed. When none is
found the tests fail if ``LRS_REQUIRE_BROWSER=1`` (CI sets it) and are skipped, with the reason
in pytest's summary, otherwise.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab_server import DISABLED_LAB_PLUGINS, running_lab

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# Run All takes < 1 min per notebook on its own (team rule); the margin covers a loaded CI machine.
RUN_ALL_TIMEOUT_MS = 240_000
# One explorer redraw (the jump explorer reruns stcal's detection once per threshold).
REDRAW_TIMEOUT_MS = 60_000


def _no_browser(reason):
    if os.environ.get("LRS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (LRS_REQUIRE_BROWSER=1 requires the browser test)", pytrace=False)
    pytest.skip(reason)


def _find_chromium(playwright):
    """Debian's Chromium, one on PATH, or the one ``playwright install chromium`` put in its folder."""
    candidates = ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"),
                  playwright.chromium.executable_path]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


# One Chromium per module, not per session: Playwright's sync API keeps an asyncio loop running
# in the main thread while it is open, which sends every later nbclient run in this process
# through jupyter_core's thread runner, where notebook executions intermittently hung (kernel and
# client both idle, each waiting on the other).
@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for this module, or a skip (a failure under LRS_REQUIRE_BROWSER=1) if none."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _no_browser(f"Playwright is not importable ({error}); `make install` installs it")
    with sync_playwright() as playwright:
        executable = _find_chromium(playwright)
        if executable is None:
            _no_browser("no Chromium found (/usr/bin/chromium, PATH, Playwright's browsers): "
                        "run `make system-deps` on Debian or `playwright install chromium`")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def lab(project_root, tmp_path_factory):
    """One JupyterLab for this file's tests, serving a temporary copy of the notebooks."""
    folder = tmp_path_factory.mktemp("lab") / "notebooks"
    shutil.copytree(project_root / "notebooks", folder)
    with running_lab(project_root, notebook_dir=folder) as (base_url, token):
        yield base_url, token


@pytest.fixture
def artifacts(project_root):
    """``test-artifacts/`` at the project root (git ignores it), for the screenshots."""
    folder = project_root / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


@contextmanager
def notebook_page(browser, lab, notebook, artifacts):
    """A new page with ``notebook`` open; a screenshot if the test fails, the kernel shut down if not."""
    base_url, token = lab
    failure_shot = artifacts / f"{Path(notebook).stem}-failure.png"
    failure_shot.unlink(missing_ok=True)  # an earlier run's, no longer true
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{base_url}/lab/tree/{notebook}?token={token}")
        page.wait_for_function(
            "name => window.jupyterapp?.shell.currentWidget?.context?.path.endsWith(name)",
            arg=notebook, timeout=90_000)
        yield page
        # Free the kernel; after a failure the server's shutdown stops it instead.
        page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.sessionContext.shutdown(); }")
    except BaseException:
        page.screenshot(path=str(failure_shot), timeout=15_000)
        raise
    finally:
        page.close()


def run_all_cells(page):
    """Run every cell once the kernel session is connected; wait until the last one has finished."""
    page.evaluate("""async () => {
        const notebook = window.jupyterapp.shell.currentWidget;
        await notebook.context.ready;
        // Cells sent before the notebook's kernel session is connected are lost, so wait for it.
        await notebook.sessionContext.ready;
        window.lrsRunAll = {done: false};
        window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            ok => { window.lrsRunAll = {done: true, ok: ok !== false}; },
            error => { window.lrsRunAll = {done: true, ok: false, error: String(error)}; });
    }""")
    page.wait_for_function("window.lrsRunAll.done", timeout=RUN_ALL_TIMEOUT_MS)
    outcome = page.evaluate("window.lrsRunAll")
    assert outcome == {"done": True, "ok": True}, f"Run All stopped: {outcome}\n" + "\n".join(problem_outputs(page))
    # Every code cell ran: an execution count on each (a stopped run leaves some without).
    not_run = page.evaluate("""() => {
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
        const missing = [];
        for (let i = 0; i < cells.length; i++) {
            const cell = cells.get(i);
            if (cell.type === 'code' && !cell.executionCount) missing.push(i);
        }
        return missing;
    }""")
    assert not_run == [], f"code cells left without an execution count: {not_run}"


def problem_outputs(page):
    """Error and stderr outputs: those stored in the cells and those shown anywhere (widget outputs)."""
    return page.evaluate("""() => {
        const found = [];
        const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
        for (let i = 0; i < cells.length; i++) {
            const cell = cells.get(i);
            if (cell.type !== 'code') continue;
            for (const out of cell.outputs.toJSON()) {
                if (out.output_type === 'error') found.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
                if (out.output_type === 'stream' && out.name === 'stderr') {
                    found.push(`cell ${i} stderr: ${[].concat(out.text).join('').slice(0, 300)}`);
                }
            }
        }
        const shown = "[data-mime-type='application/vnd.jupyter.error'], "
                    + "[data-mime-type='application/vnd.jupyter.stderr']";
        for (const node of document.querySelectorAll(shown)) found.push(`shown: ${node.textContent.slice(0, 300)}`);
        return found;
    }""")


def assert_no_problem_output(page):
    problems = problem_outputs(page)
    assert problems == [], "error or stderr output in the notebook:\n" + "\n".join(problems)


def assert_news_plugin_disabled(page):
    disabled = page.evaluate(
        "JSON.parse(document.getElementById('jupyter-config-data').textContent).disabledExtensions")
    assert set(DISABLED_LAB_PLUGINS) <= set(disabled)


def screenshot(page, element, path):
    element.scroll_into_view_if_needed()
    page.screenshot(path=str(path), timeout=15_000)


def test_overview_runs_in_jupyterlab_and_its_slider_redraws(browser, lab, artifacts):
    from playwright.sync_api import expect

    with notebook_page(browser, lab, "00_overview.ipynb", artifacts) as page:
        assert_news_plugin_disabled(page)
        run_all_cells(page)
        assert_no_problem_output(page)

        # Choose a multi-integration product, then move the integration slider one step.
        dropdown = page.locator(".widget-dropdown select")
        dropdown.select_option("slitless_rateints")
        first = page.locator(".widget-output", has_text="slitless_rateints: integration 1 of")
        expect(first).to_be_visible(timeout=REDRAW_TIMEOUT_MS)
        screenshot(page, first, artifacts / "00_overview-before.png")
        page.locator(".widget-slider .noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
        second = page.locator(".widget-output", has_text="slitless_rateints: integration 2 of")
        expect(second).to_be_visible(timeout=REDRAW_TIMEOUT_MS)
        screenshot(page, second, artifacts / "00_overview-after.png")
        assert_no_problem_output(page)


# notebook, the explorer's main slider (its label and which noUi handle), the key that moves it,
# how many presses, and the slider's readout after them.
MAIN_SLIDERS = [
    # The notebook asks the reader to move the regions toward the trace or into the roll-off: the
    # left region's upper edge from its default 27 (exclusive) down three columns.
    pytest.param("04_slitless_background.ipynb", "left cols", ".noUi-handle-upper", "ArrowLeft", 3, "13-24",
                 id="background"),
    # From the default 4 sigma, which flags the bright peak, up to 6 sigma.
    pytest.param("05_jump_dropouts.ipynb", "threshold", ".noUi-handle", "ArrowRight", 2, "6.0", id="jumps"),
]
BACK = {"ArrowLeft": "ArrowRight", "ArrowRight": "ArrowLeft"}


def new_figure_src(page, cell, previous):
    """The src (a data: URL) of the image in ``cell``'s widget output, once it is not ``previous``."""
    handle = page.wait_for_function(
        """([cell, previous]) => {
            const img = cell.querySelector('.widget-output img');
            return img && img.src.startsWith('data:image/') && img.src !== previous && img.src;
        }""", arg=[cell.element_handle(), previous], timeout=REDRAW_TIMEOUT_MS)
    return handle.json_value()


def press_and_redraw(page, cell, handle, key, presses, src):
    """Press ``key`` on a slider handle ``presses`` times, waiting for a new figure after each press.

    Returns the last figure's src; ``src`` is the figure's before the first press.
    """
    for _ in range(presses):
        handle.focus()
        page.keyboard.press(key)
        src = new_figure_src(page, cell, src)
    return src


@pytest.mark.parametrize("notebook, label, handle_class, key, presses, readout_after", MAIN_SLIDERS)
def test_walkthrough_runs_in_jupyterlab_and_its_explorer_follows_the_main_slider(
        browser, lab, artifacts, notebook, label, handle_class, key, presses, readout_after):
    from playwright.sync_api import expect

    stem = Path(notebook).stem
    with notebook_page(browser, lab, notebook, artifacts) as page:
        run_all_cells(page)
        assert_no_problem_output(page)

        slider = page.locator(".widget-slider").filter(
            has=page.locator(".widget-label", has_text=label)).first
        cell = page.locator(".jp-Cell").filter(has=slider)
        expect(cell).to_have_count(1)
        handle = slider.locator(handle_class)
        readout = slider.locator(".widget-readout")
        figure = cell.locator(".widget-output img")
        before = new_figure_src(page, cell, previous=None)
        readout_before = readout.inner_text()
        screenshot(page, figure, artifacts / f"{stem}-before.png")

        after = press_and_redraw(page, cell, handle, key, presses, before)
        # Readouts write ranges with an en dash and spaces; compare them without.
        assert readout.inner_text().replace(" ", "").replace("\u2013", "-") == readout_after
        assert after != before
        screenshot(page, figure, artifacts / f"{stem}-after.png")
        assert_no_problem_output(page)

        # The figure is a function of the slider: moving back redraws the first figure exactly.
        restored = press_and_redraw(page, cell, handle, BACK[key], presses, after)
        assert readout.inner_text() == readout_before
        assert restored == before
        assert_no_problem_output(page)
