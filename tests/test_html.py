"""`make html`: the Sphinx site builds with -W (no warnings), renders every executed notebook with its
stored figures without executing it, documents every public function, and carries the README's tour."""

import base64
import hashlib
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import time
from html import unescape
from pathlib import Path

import pytest

import lrs_helpers

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def folder_digest(folder):
    """sha256 of every file under ``folder`` by relative path (names and contents)."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def heading_of(notebook_path):
    """First markdown heading, read straight from the notebook's JSON."""
    for cell in json.loads(notebook_path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            match = re.search(r"^#+\s+(.+?)\s*$", "".join(cell["source"]), flags=re.MULTILINE)
            if match:
                return match.group(1)
    raise AssertionError(f"{notebook_path} has no markdown heading")


def stored_pngs(notebook_path):
    """The PNG figures a notebook stores in its cells' outputs, and those in its explorers' widget state."""
    notebook = json.loads(notebook_path.read_text())
    outputs = [output for cell in notebook["cells"] for output in cell.get("outputs", [])]
    in_cells = ["".join(output["data"]["image/png"]).replace("\n", "")
                for output in outputs if "image/png" in output.get("data", {})]
    state = notebook["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    in_widgets = ["".join(output["data"]["image/png"]).replace("\n", "")
                  for model in state.get("state", {}).values() if model["model_name"] == "OutputModel"
                  for output in model["state"].get("outputs", []) if "image/png" in output.get("data", {})]
    return in_cells, in_widgets


def public_functions(module):
    """Names of the functions and classes a module defines whose names do not start with '_'."""
    return sorted(name for name, member in vars(module).items()
                  if not name.startswith("_") and (inspect.isfunction(member) or inspect.isclass(member))
                  and member.__module__ == module.__name__)


@pytest.fixture(scope="module")
def built(project_root, tmp_path_factory):
    """The site as `make html` writes it (into a temporary folder), its build time, and the notebooks' digest."""
    notebooks = project_root / "notebooks"
    before = folder_digest(notebooks)
    out = tmp_path_factory.mktemp("site") / "html"
    start = time.perf_counter()
    result = subprocess.run(["make", "--no-print-directory", "html", f"HTML_DIR={out}"], cwd=project_root,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - start
    # -W in the Makefile: any Sphinx or docutils warning (numpydoc included) fails the build
    assert result.returncode == 0, f"make html failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    print(f"make html: {seconds:.0f} s")
    return out, notebooks, before, folder_digest(notebooks)


def test_make_html_builds_with_warnings_as_errors_and_leaves_the_notebooks_unchanged(built, project_root):
    _, _, before, after = built
    assert before and after == before
    assert "sphinx -W " in (project_root / "Makefile").read_text()


@pytest.mark.parametrize("stem", [path.stem for path in sorted(NOTEBOOKS.glob("*.ipynb"))])
def test_each_notebook_page_holds_its_title_and_stored_figures(built, stem):
    out, notebooks, _, _ = built
    source = notebooks / f"{stem}.ipynb"
    page_path = out / "notebooks" / f"{stem}.html"
    page = page_path.read_text()
    title = unescape(re.search(r"<title>(.*?)</title>", page, flags=re.DOTALL).group(1)).split(" \u2014 ")[0]
    assert title.strip() == heading_of(source)
    in_cells, in_widgets = stored_pngs(source)
    assert in_cells or in_widgets, f"{source} stores no figure"
    # Every stored figure, the explorers' first figures included, is an image beside the page,
    # byte for byte the notebook's own (not re-made).
    shown = {hashlib.sha256((page_path.parent / src).read_bytes()).hexdigest()
             for src in re.findall(r'<img[^>]* src="([^"]+\.png)"', page)}
    expected = {hashlib.sha256(base64.b64decode(png)).hexdigest() for png in in_cells + in_widgets}
    assert expected <= shown, f"{len(expected - shown)} stored figures of {source.name} are not in its page"
    # Explorers are shown as stored, with their settings; no widget code is loaded from a CDN.
    assert page.count("Interactive explorer, shown as stored") == source.read_text().count(WIDGET_VIEW)
    assert "widget-state+json" not in page and WIDGET_VIEW not in page and "embed-amd" not in page


def test_walkthroughs_page_lists_every_notebook(built):
    out, notebooks, _, _ = built
    page = (out / "walkthroughs.html").read_text()
    for path in sorted(notebooks.glob("*.ipynb")):
        assert f'href="notebooks/{path.stem}.html"' in page


def test_api_reference_documents_every_public_function_of_every_module(built):
    out = built[0]
    modules = [info.name for info in pkgutil.walk_packages(lrs_helpers.__path__, "lrs_helpers.")
               if not info.name.endswith("__main__")]
    assert len(modules) >= 25
    missing = []
    for name in modules:
        page = out / "api" / f"{name}.html"
        assert page.is_file(), f"no API page for {name}"
        text = page.read_text()
        missing += [f"{name}.{member}" for member in public_functions(importlib.import_module(name))
                    if f'id="{name}.{member}"' not in text]
    assert missing == []
    assert 'id="lrs_helpers.diagnose"' in (out / "api" / "lrs_helpers.diagnose.html").read_text()


def test_tour_is_the_readme(built, project_root):
    page = unescape((built[0] / "tour.html").read_text())
    headings = re.findall(r"^##\s+(.+?)\s*$", (project_root / "README.md").read_text(), flags=re.MULTILINE)
    assert len(headings) >= 4
    assert all(heading in page for heading in headings)
