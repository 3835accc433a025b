"""The package's layout rules, checked on the source: who may build twins, and where imports go."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lrs_helpers"
#: the only modules outside lrs_helpers/sample that may import the twin builders
TWIN_BUILDERS_USERS = {"data.py", "cli.py"}
HELPER_MODULES = sorted(path for path in PACKAGE.glob("*.py"))


def _imports(tree):
    """Every imported module name of a parsed module, absolute or relative (leading dots kept)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            yield base
            separator = "" if base.endswith(".") else "."
            yield from (base + separator + alias.name for alias in node.names)


@pytest.mark.parametrize("module", HELPER_MODULES, ids=[path.name for path in HELPER_MODULES])
def test_helpers_never_import_the_twin_builders(module):
    names = set(_imports(ast.parse(module.read_text())))
    builds_twins = any(name in (".sample", "lrs_helpers.sample")
                       or name.startswith((".sample.", "lrs_helpers.sample.")) for name in names)
    assert not builds_twins or module.name in TWIN_BUILDERS_USERS, module.name


def test_instrument_knowledge_is_not_in_the_twin_builders():
    """The wavelength solution, trace and PSF width live in lrs_helpers.instrument only."""
    grounding = ast.parse((PACKAGE / "sample" / "grounding.py").read_text())
    defined = {node.name for node in grounding.body if isinstance(node, ast.FunctionDef)}
    assert not defined & {"wavelength_at_row", "row_at_wavelength", "wavelength_map", "trace_column",
                          "psf_sigma_pixels", "sensitivity_dn_s_per_ujy"}


def test_dq_bits_come_from_stdatamodels():
    from stdatamodels.jwst.datamodels import dqflags

    from lrs_helpers import background, emi, errors, instrument, jumps

    assert instrument.DQ == dict(dqflags.pixel)
    for module in (background, emi, errors, jumps):
        assert module.DO_NOT_USE == dqflags.pixel["DO_NOT_USE"], module.__name__
    assert jumps.JUMP_DET == dqflags.pixel["JUMP_DET"]
