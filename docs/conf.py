"""Sphinx configuration of the lrs_helpers documentation (``make html`` builds it into build/html).

The walkthrough notebooks are rendered as stored, with the outputs of their last execution
(myst-nb, execution off): the figures in the pages are the notebooks' own, and building the
documentation needs no data and no kernel. The project's ``notebooks/`` folder is only read:
its notebooks are copied into ``docs/notebooks/`` (generated, not versioned), where links between
them resolve as they do in JupyterLab; in the copies each explorer is replaced by the figure it
stored (see ``_static_notebook``), so the pages need no widget code.
"""

import html
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lrs_helpers  # noqa: E402  (after the path, so a checkout builds without installing)


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


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
    """Outputs standing for one widget view: a note with its controls' settings, then what it stored."""
    models = [state[model_id] for model_id in _widget_descendants(state, view["model_id"]) if model_id in state]
    settings = [setting for model in models if (setting := _control_setting(model["state"]))]
    note = ("Interactive explorer, shown as stored" + (f" ({'; '.join(settings)})" if settings else "")
            + ". Open this notebook in JupyterLab (make lab) to move it.")
    outputs = [{"output_type": "display_data", "metadata": {},
                "data": {"text/html": f'<p class="lrs-explorer-note"><em>{html.escape(note)}</em></p>',
                         "text/plain": note}}]
    for model in models:
        if model["model_name"] == "OutputModel":
            outputs += model["state"].get("outputs", [])
    return outputs


def _static_notebook(text):
    """A notebook's JSON for a static page: each explorer (widget view) replaced by what it stored.

    The explorers need a kernel to move; their stored state holds the figure each drew first. The
    pages show that figure with a note naming the controls' settings, and carry no widget state,
    so they load no widget code from a CDN and read the same offline.
    """
    notebook = json.loads(text)
    state = notebook.get("metadata", {}).pop("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [replaced for output in cell["outputs"]
                               for replaced in (_static_explorer(output["data"][_WIDGET_VIEW], state)
                                                if _WIDGET_VIEW in output.get("data", {}) else [output])]
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _stage_notebooks(source, target):
    """Mirror ``source/*.ipynb`` into ``target`` as static copies; drop copies of removed notebooks."""
    target.mkdir(exist_ok=True)
    wanted = {path.name: path for path in source.glob("*.ipynb")}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name, path in wanted.items():
        page = _static_notebook(path.read_text(encoding="utf-8"))
        copy = target / name
        if not copy.exists() or copy.read_text(encoding="utf-8") != page:  # unchanged: Sphinx skips it
            copy.write_text(page, encoding="utf-8")


_stage_notebooks(ROOT / "notebooks", Path(__file__).resolve().parent / "notebooks")

project = "lrs_helpers"
author = "The lrs_helpers developers"
copyright = "2026, The lrs_helpers developers"
version = release = lrs_helpers.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "notebooks/.ipynb_checkpoints", "**/.ipynb_checkpoints"]
root_doc = "index"

# Notebooks: shown as stored, never executed here (`make notebooks` refreshes their outputs).
nb_execution_mode = "off"
# Code cells that raise nothing but print to stderr (progress lines) stay visible, not warnings.
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# API reference: autosummary writes one page per module (docs/api/, generated), listing and
# documenting each public function and class; numpydoc renders the docstrings.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"lrs_helpers {release}"
html_static_path = []
