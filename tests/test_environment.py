"""environment.yml (conda users) and pyproject.toml (pip) must list the same dependency ranges."""

import subprocess
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

PACKAGE = "lrs-helpers"


def _canonical(name):
    return name.lower().replace("_", "-")


def _pyproject(project_root):
    return tomllib.loads((project_root / "pyproject.toml").read_text())["project"]


def _expanded(project, extra, seen=()):
    """Requirements of an extra, with the package's own extras it names (``lrs_helpers[lab]``) expanded."""
    found = []
    for text in project["optional-dependencies"][extra]:
        requirement = Requirement(text)
        if _canonical(requirement.name) == PACKAGE:
            for inner in sorted(requirement.extras - set(seen)):
                found += _expanded(project, inner, (*seen, extra))
        else:
            found.append(text)
    return found


def _normalised(requirements):
    """Map each requirement's canonical name to its specifier set, as text."""
    parsed = [Requirement(text) for text in requirements]
    names = [_canonical(req.name) for req in parsed]
    assert len(set(names)) == len(names), f"listed twice: {sorted({n for n in names if names.count(n) > 1})}"
    return {_canonical(req.name): str(req.specifier) for req in parsed}


def _pyproject_requirements(project_root):
    project = _pyproject(project_root)
    extras = [name for extra in project["optional-dependencies"] for name in _expanded(project, extra)]
    return project["dependencies"] + sorted(set(extras))


def _conda_pip_requirements(project_root):
    environment = yaml.safe_load((project_root / "environment.yml").read_text())
    pip_sections = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert len(pip_sections) == 1, "environment.yml should have exactly one pip section"
    # "-e ." installs the package itself; it is not a dependency to compare.
    return [line for line in pip_sections[0] if not line.startswith("-e")]


def test_same_dependencies_in_environment_yml_and_pyproject(project_root):
    from_pyproject = _normalised(_pyproject_requirements(project_root))
    from_conda = _normalised(_conda_pip_requirements(project_root))
    missing_in_conda = sorted(set(from_pyproject) - set(from_conda))
    missing_in_pyproject = sorted(set(from_conda) - set(from_pyproject))
    assert not missing_in_conda, f"in pyproject.toml but not environment.yml: {missing_in_conda}"
    assert not missing_in_pyproject, f"in environment.yml but not pyproject.toml: {missing_in_pyproject}"
    differing = {name: (from_pyproject[name], from_conda[name])
                 for name in from_pyproject if from_pyproject[name] != from_conda[name]}
    assert not differing, f"version ranges differ (pyproject, environment.yml): {differing}"


def test_every_dependency_is_a_bounded_range(project_root):
    """Ranges, not pins, and each with an upper bound (the newest series it is tested with)."""
    for text in _pyproject_requirements(project_root):
        specifiers = list(Requirement(text).specifier)
        operators = {spec.operator for spec in specifiers}
        assert "==" not in operators and "~=" not in operators, f"{text}: a pin, not a range"
        assert {">=", "<"} <= operators, f"{text}: needs a lower and an upper bound"


def _planned_installs(project_root, target, tmp_path):
    """The pip install commands `make TARGET` would run for a new venv (a dry run: nothing runs)."""
    plan = subprocess.run(["make", "--no-print-directory", "-n", target, f"VENV={tmp_path / 'venv'}"],
                          cwd=project_root, capture_output=True, text=True, check=True).stdout
    return [line for line in plan.splitlines() if "pip install" in line]


def test_jupyterlab_is_an_extra_that_make_lab_installs(project_root, tmp_path):
    project = _pyproject(project_root)
    runtime = {_canonical(Requirement(text).name) for text in project["dependencies"]}
    assert not runtime & {"jupyterlab", "nbconvert", "ipykernel", "ipympl", "sphinx"}
    assert "jupyterlab" in {_canonical(Requirement(t).name) for t in project["optional-dependencies"]["lab"]}
    lab = _planned_installs(project_root, "lab", tmp_path)
    assert len(lab) == 1 and '".[lab]"' in lab[0] and "-c requirements/lock.txt" in lab[0]
    assert any('".[test]"' in line for line in _planned_installs(project_root, "test", tmp_path))
    # `make test` installs what nbval, the lab, browser and docs tests need
    test_extra = {_canonical(Requirement(t).name) for t in _expanded(project, "test")}
    assert {"jupyterlab", "nbval", "playwright", "sphinx", "myst-nb", "numpydoc"} <= test_extra


def test_lock_satisfies_the_ranges(project_root):
    """The locked set `make install` uses lies inside the declared ranges."""
    locked = {}
    for line in (project_root / "requirements" / "lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            locked[_canonical(name)] = Version(version)
    for name, specifier in _normalised(_pyproject_requirements(project_root)).items():
        assert name in locked, f"{name} is not in requirements/lock.txt"
        assert SpecifierSet(specifier).contains(locked[name]), f"locked {name} {locked[name]} outside {specifier}"


def test_python_version_matches(project_root):
    project = _pyproject(project_root)
    environment = yaml.safe_load((project_root / "environment.yml").read_text())
    pythons = [entry for entry in environment["dependencies"]
               if isinstance(entry, str) and entry.startswith("python")]
    assert pythons == ["python" + project["requires-python"]]
    assert project["requires-python"] == ">=3.11,<3.15"
