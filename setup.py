"""The build's one addition to pyproject.toml: a wheel carries the conformance scenarios and
the fixtures under harness/_bundled (see harness/resources.py), so an installed harness runs
without a checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".gitignore")


class BuildWithBundles(build_py):
    """`build_py`, then fixtures/ and scenarios/ copied into the built package."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        for name in ("fixtures", "scenarios"):
            target = Path(self.build_lib) / "harness" / "_bundled" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ROOT / name, target, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithBundles})
