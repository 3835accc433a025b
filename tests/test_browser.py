"""Open JupyterLab in headless Chromium, run the overview notebook and move its widget.

Uses Debian's Chromium (installed by `make test`) driven by Playwright. The notebooks are run
from a temporary copy, so the browser session never saves over the committed notebooks.
"""

import shutil
from pathlib import Path

import pytest

from jupyter_server import running_lab

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def notebook_copy(project_root, tmp_path):
    folder = tmp_path / "notebooks"
    shutil.copytree(project_root / "notebooks", folder)
    return folder


def test_overview_runs_in_jupyterlab_and_its_slider_redraws(project_root, notebook_copy):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (make test installs it)")
    from playwright.sync_api import expect, sync_playwright

    with running_lab(project_root, notebook_dir=notebook_copy) as (base_url, token), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
                                             headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base_url}/lab/tree/00_overview.ipynb?token={token}")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            # Wait for the kernel, then run every cell with the "Run All Cells" command.
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
                1, timeout=90_000)
            page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
            # Cells sent before the notebook's kernel session is connected are lost, so wait for it.
            page.evaluate("""async () => {
                const notebook = window.jupyterapp.shell.currentWidget;
                await notebook.context.ready;
                await notebook.sessionContext.ready;
                await window.jupyterapp.commands.execute('notebook:run-all-cells');
            }""")

            dropdown = page.locator(".widget-dropdown select")
            expect(dropdown).to_be_visible(timeout=240_000)
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(
                1, timeout=240_000)
            assert page.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0

            # Choose a multi-integration product, then move the integration slider one step.
            dropdown.select_option("slitless_rateints")
            expect(page.locator(".widget-output", has_text="slitless_rateints: integration 1 of")
                   ).to_be_visible(timeout=60_000)
            page.locator(".widget-slider .noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            expect(page.locator(".widget-output", has_text="slitless_rateints: integration 2 of")
                   ).to_be_visible(timeout=60_000)
        finally:
            # What the page showed last, for reading when the test fails.
            page.screenshot(path=str(project_root / ".cache" / "browser-test.png"), timeout=15_000)
            browser.close()
