"""Build hook: the wheel carries the top-level data_manifest.csv inside the package.

All other configuration is in pyproject.toml. The top-level file stays the one to edit; this
copies it into the built package so that an installed (non-editable) lrs_helpers finds it.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MANIFEST = Path(__file__).resolve().parent / "data_manifest.csv"


class BuildPyWithManifest(build_py):
    """build_py that also copies data_manifest.csv into the built lrs_helpers package."""

    def run(self):
        super().run()
        # an editable install reads the top-level file in place
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "lrs_helpers" / MANIFEST.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(MANIFEST, target)


setup(cmdclass={"build_py": BuildPyWithManifest})
