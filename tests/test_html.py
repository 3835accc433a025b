"""`make html`: every executed notebook becomes a static page with its stored figures, listed in an index."""

import hashlib
import json
import re
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from lrs_helpers import site

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def folder_digest(folder):
    """sha256 of every file under ``folder`` by relative path (names and contents)."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


class Links(HTMLParser):
    """The (href, text) of every <a> in a page."""

    def __init__(self, page):
        super().__init__()
        self.found, self._href = [], None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""

    def handle_data(self, data):
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.found.append((self._href, self._text.strip()))
            self._href = None


def heading_of(notebook_path):
    """First markdown heading, read straight from the notebook's JSON."""
    for cell in json.loads(notebook_path.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            match = re.search(r"^#+\s+(.+?)\s*$", "".join(cell["source"]), flags=re.MULTILINE)
            if match:
                return match.group(1)
    raise AssertionError(f"{notebook_path} has no markdown heading")


def stored_pngs(notebook_path):
    """Base64 PNGs a notebook stores: in its cells' outputs, and in its explorers' output widgets."""
    notebook = json.loads(notebook_path.read_text())
    outputs = [output for cell in notebook["cells"] for output in cell.get("outputs", [])]
    state = notebook["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    for model in state.get("state", {}).values():
        if model["model_name"] == "OutputModel":
            outputs += model["state"].get("outputs", [])
    return ["".join(output["data"]["image/png"]).replace("\n", "")
            for output in outputs if "image/png" in output.get("data", {})]


@pytest.fixture(scope="module")
def built(project_root, tmp_path_factory):
    """The site as `make html` writes it (into a temporary folder), and the notebooks' digest before and after."""
    notebooks = project_root / "notebooks"
    before = folder_digest(notebooks)
    out = tmp_path_factory.mktemp("site") / "html"
    subprocess.run(["make", "--no-print-directory", "html", f"HTML_DIR={out}"], cwd=project_root, check=True,
                   capture_output=True, text=True)
    return out, notebooks, before, folder_digest(notebooks)


def test_make_html_leaves_the_notebooks_unchanged(built):
    _, _, before, after = built
    assert before and after == before


def test_index_links_every_notebook_by_its_title(built):
    out, notebooks, _, _ = built
    sources = sorted(notebooks.glob("*.ipynb"))
    assert len(sources) >= 9  # 00_overview and the eight walkthroughs, whatever their names
    expected = [(f"{path.stem}.html", heading_of(path)) for path in sources]
    assert Links((out / "index.html").read_text()).found == expected
    assert all((out / page).is_file() for page, _ in expected)


@pytest.mark.parametrize("stem", [path.stem for path in sorted(NOTEBOOKS.glob("*.ipynb"))])
def test_each_page_holds_its_title_stored_figures_and_explorer_without_widget_code(built, stem):
    out, notebooks, _, _ = built
    source = notebooks / f"{stem}.ipynb"
    page = (out / f"{stem}.html").read_text()
    title = re.search(r"<title>(.*?)</title>", page, flags=re.DOTALL).group(1).strip()
    assert title == escape(heading_of(source), quote=False)
    pngs = stored_pngs(source)
    assert pngs, f"{source} stores no figure"
    missing = [index for index, png in enumerate(pngs) if f'src="data:image/png;base64,{png}' not in page]
    assert missing == [], f"stored figures {missing} of {source} are not in the page"
    assert page.count("<img") >= len(pngs)
    # Explorers are shown as stored, with their settings, and no widget manager is loaded from a CDN.
    assert page.count("Interactive explorer, shown as stored") == source.read_text().count(WIDGET_VIEW)
    assert "widget-state+json" not in page and WIDGET_VIEW not in page
    assert ("index.html", "All walkthroughs") in Links(page).found


def small_notebook(path, heading, widget=False):
    """A one-figure notebook; with ``widget`` its figure is held by an explorer's output widget."""
    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(f"Intro line\n\n{heading}\n\ntext"),
                      nbformat.v4.new_code_cell("explore()", execution_count=1)]
    if widget:
        view = {"model_id": "box", "version_major": 2, "version_minor": 0}
        notebook.cells[1].outputs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: view})]
        notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
            "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_knob", "IPY_MODEL_out"]}},
            "knob": {"model_name": "IntSliderModel", "state": {"description": "order", "value": 2}},
            "out": {"model_name": "OutputModel", "state": {"outputs": [{"output_type": "display_data",
                                                                      "data": png, "metadata": {}}]}},
        }, "version_major": 2, "version_minor": 0}}
    else:
        notebook.cells[1].outputs = [nbformat.v4.new_output("display_data", data=png)]
    nbformat.write(notebook, path)


def test_site_follows_whatever_notebooks_exist_and_rebuilds_in_place(tmp_path):
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    small_notebook(notebooks / "07_error_estimates.ipynb", "# 07 · Error estimates", widget=True)
    small_notebook(notebooks / "10_new.ipynb", "## A new walkthrough")
    out = tmp_path / "build" / "html"
    (out).mkdir(parents=True)  # an empty folder may be used
    entries = site.build_site(out, notebooks)
    assert entries == [("07_error_estimates.ipynb", "07_error_estimates.html", "07 · Error estimates"),
                       ("10_new.ipynb", "10_new.html", "A new walkthrough")]
    page = (out / "07_error_estimates.html").read_text()
    assert "shown as stored (order: 2)" in page and 'src="data:image/png;base64,iVBORw0KGgo=' in page

    # A rebuild replaces the earlier site: a removed notebook's page goes, and nothing is left beside it.
    (notebooks / "10_new.ipynb").unlink()
    site.build_site(out, notebooks)
    assert sorted(path.name for path in out.iterdir()) == [site.MARKER, "07_error_estimates.html", "index.html"]
    assert sorted(path.name for path in out.parent.iterdir()) == ["html"]


def test_refuses_folders_it_must_not_replace_or_write(tmp_path):
    notebooks = tmp_path / "nbs"
    notebooks.mkdir()
    small_notebook(notebooks / "01_a.ipynb", "# A")
    with pytest.raises(ValueError, match="overlaps the notebooks folder"):
        site.build_site(notebooks / "html", notebooks)
    with pytest.raises(ValueError, match="overlaps the notebooks folder"):
        site.build_site(tmp_path, notebooks)
    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"mine already holds files not written by lrs_helpers.site"):
        site.build_site(elsewhere, notebooks)
    assert (elsewhere / "notes.txt").read_text() == "keep me"
    assert sorted(path.name for path in notebooks.iterdir()) == ["01_a.ipynb"]


def test_bad_notebook_folders_give_one_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert site.main([str(tmp_path / "out"), "--notebooks", str(empty)]) == 2
    assert capsys.readouterr().err.strip() == f"error: no *.ipynb notebooks found in {empty}"

    untitled = tmp_path / "untitled"
    untitled.mkdir()
    small_notebook(untitled / "01_a.ipynb", "no heading here")
    with pytest.raises(ValueError, match=r"01_a.ipynb has no markdown heading"):
        site.build_site(tmp_path / "out", untitled)
    assert not (tmp_path / "out").exists()
