"""environment.yml (conda users) and pyproject.toml (pip) must list the same dependencies."""

import tomllib

import yaml
from packaging.requirements import Requirement


def _normalised(requirements):
    """Map each requirement's canonical name to its specifier set, as text."""
    parsed = [Requirement(text) for text in requirements]
    return {req.name.lower().replace("_", "-"): str(req.specifier) for req in parsed}


def _pyproject_requirements(project_root):
    project = tomllib.loads((project_root / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["test"]


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
    assert not differing, f"version pins differ (pyproject, environment.yml): {differing}"


def test_python_version_matches(project_root):
    project = tomllib.loads((project_root / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((project_root / "environment.yml").read_text())
    pythons = [entry for entry in environment["dependencies"]
               if isinstance(entry, str) and entry.startswith("python")]
    assert pythons == ["python" + project["requires-python"]]
