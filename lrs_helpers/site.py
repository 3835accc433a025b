"""Render the executed walkthrough notebooks to a static site: one HTML page each and an index.

``make html`` runs ``python -m lrs_helpers.site build/html``. The notebooks are rendered as
stored, with their outputs (figures are embedded in the pages); nothing is executed and the
notebooks folder is only read. The index lists every ``*.ipynb`` found, in file-name order, by
the title in its first markdown heading.

The explorers' widgets need a running kernel, so a page shows each explorer as it was stored: a
line naming its controls and their settings, then the figure it drew first, with a pointer to
``make lab`` for moving it. The widget state is left out of the pages, so they load no widget
code from the network and read the same offline.

The new site is written to a temporary folder beside the output folder and renamed into place
only when complete. An existing output folder is replaced only if it is empty or was written by
this module (it holds :data:`MARKER`).
"""

import argparse
import copy
import html
import shutil
import sys
from pathlib import Path

import nbformat

#: File that marks a folder as a site written here, so rebuilding may replace it.
MARKER = ".lrs-helpers-site"

_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def notebook_title(notebook):
    """The text of the first markdown heading of a notebook, or ``None`` when it has none.

    Parameters
    ----------
    notebook : nbformat.NotebookNode

    Returns
    -------
    str or None
    """
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return None


def _widget_descendants(state, model_id):
    """Model ids of a widget and everything under it, depth first (``children`` lists)."""
    found = [model_id]
    for child in state.get(model_id, {}).get("state", {}).get("children", []):
        found += _widget_descendants(state, child.removeprefix("IPY_MODEL_"))
    return found


def _control_setting(widget_state):
    """``"description: value"`` for a control with a description, else ``None``."""
    description = widget_state.get("description")
    if not description:
        return None
    if "_options_labels" in widget_state and widget_state.get("index") is not None:
        value = widget_state["_options_labels"][widget_state["index"]]
    elif "value" in widget_state:
        value = widget_state["value"]
        value = " to ".join(map(str, value)) if isinstance(value, list) else value
    else:
        return None
    return f"{description}: {value}"


def _static_explorer(view, state):
    """Outputs standing for one widget view: a note with the controls' settings, then its stored outputs."""
    ids = _widget_descendants(state, view["model_id"])
    models = [state[model_id] for model_id in ids if model_id in state]
    settings = [setting for model in models if (setting := _control_setting(model["state"]))]
    note = ("Interactive explorer, shown as stored" + (f" ({'; '.join(settings)})" if settings else "")
            + ". Open this notebook in JupyterLab (make lab) to move it.")
    outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": f'<p class="lrs-explorer-note"><em>{html.escape(note)}</em></p>', "text/plain": note})]
    for model in models:
        if model["model_name"] == "OutputModel":
            outputs += [nbformat.from_dict(output) for output in model["state"].get("outputs", [])]
    return outputs


def static_copy(notebook):
    """A copy of a notebook ready for a static page: widget views replaced by what they stored.

    Parameters
    ----------
    notebook : nbformat.NotebookNode

    Returns
    -------
    nbformat.NotebookNode
        New notebook without widget state, each widget view output replaced by a note naming its
        controls' settings and the outputs its output widgets held; a link back to the index on top.
    """
    page = copy.deepcopy(notebook)
    state = page.metadata.pop("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    for cell in page.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            view = output.get("data", {}).get(_WIDGET_VIEW)
            outputs += _static_explorer(view, state) if view else [output]
        cell.outputs = outputs
    page.cells.insert(0, nbformat.v4.new_markdown_cell("[All walkthroughs](index.html)"))
    return page


def _index_page(entries):
    items = "\n".join(f'  <li><a href="{html.escape(page)}">{html.escape(title)}</a> '
                      f'<code>{html.escape(source)}</code></li>' for source, page, title in entries)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>MIRI LRS known issues: walkthroughs</title>
<style>body {{ font-family: sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.5; }}</style>
</head>
<body>
<h1>MIRI LRS known issues: walkthroughs</h1>
<p>The walkthrough notebooks as executed on the sample twins, with their stored outputs. The
explorers are shown as stored; run <code>make lab</code> to move them and to run the notebooks on
your own files.</p>
<ul>
{items}
</ul>
</body>
</html>
"""


def _check_output_folder(out_dir, notebook_dir):
    """Refuse an output folder that overlaps the notebooks or holds files this module did not write."""
    out, source = out_dir.resolve(), notebook_dir.resolve()
    if out == source or out in source.parents or source in out.parents:
        raise ValueError(f"output folder {out_dir} overlaps the notebooks folder {notebook_dir}; "
                         "choose a separate folder, e.g. build/html")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ValueError(f"output folder {out_dir} already holds files not written by lrs_helpers.site; "
                         "choose an empty or new folder")


def build_site(out_dir, notebook_dir="notebooks"):
    """Render every notebook in ``notebook_dir`` to ``out_dir``, with an ``index.html``.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Folder of the site; created, or replaced if it is empty or an earlier site.
    notebook_dir : str or pathlib.Path
        Folder of the executed ``*.ipynb`` notebooks (only read).

    Returns
    -------
    list of (str, str, str)
        For each notebook: its file name, its page's file name and its title.

    Raises
    ------
    ValueError
        When there is no notebook, a notebook has no markdown heading, or the output folder
        overlaps the notebooks or holds other files.
    """
    from nbconvert import HTMLExporter

    from .io import scratch_folder

    out_dir, notebook_dir = Path(out_dir), Path(notebook_dir)
    _check_output_folder(out_dir, notebook_dir)
    sources = sorted(notebook_dir.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"no *.ipynb notebooks found in {notebook_dir}")
    exporter = HTMLExporter(template_name="lab")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    building = scratch_folder(out_dir)  # beside the target, with the umask's permissions
    try:
        entries = []
        for source in sources:
            notebook = nbformat.read(source, as_version=4)
            title = notebook_title(notebook)
            if title is None:
                raise ValueError(f"{source} has no markdown heading to use as its title; "
                                 "its first cell should start with '# <title>'")
            body, _ = exporter.from_notebook_node(static_copy(notebook), resources={"metadata": {"name": title}})
            page = f"{source.stem}.html"
            (building / page).write_text(body, encoding="utf-8")
            entries.append((source.name, page, title))
        (building / "index.html").write_text(_index_page(entries), encoding="utf-8")
        (building / MARKER).write_text("written by python -m lrs_helpers.site\n")
        _replace_folder(building, out_dir)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return entries


def _replace_folder(new, target):
    """Put folder ``new`` at ``target``; an old ``target`` is moved aside first and then removed."""
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def main(argv=None):
    """Command line: ``python -m lrs_helpers.site [OUT_DIR] [--notebooks DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m lrs_helpers.site",
        description="Render the executed walkthrough notebooks to a static HTML site with an index.")
    parser.add_argument("out_dir", nargs="?", default="build/html", help="site folder (default: build/html)")
    parser.add_argument("--notebooks", default="notebooks", help="folder of the notebooks (default: notebooks)")
    args = parser.parse_args(argv)
    try:
        entries = build_site(args.out_dir, args.notebooks)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{len(entries)} pages and index.html written to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
