"""Where the harness's own files are: the conformance scenarios and the fixtures (the reference
site's profile, the policies, the corpora).

Run from a checkout, they are the checkout's `scenarios/` and `fixtures/`; an installed wheel
carries copies of both under `harness/_bundled/` (the build copies them, see setup.py). Reports
go under the checkout's `reports/`, or under the current folder's when installed.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent
BUNDLED = PACKAGE / "_bundled"
BUNDLES = ("fixtures", "scenarios")


def in_checkout() -> bool:
    """Whether the harness runs from its source tree (an editable install included)."""
    return (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "scenarios").is_dir()


def bundled(name: str) -> Path:
    """The folder `fixtures` or `scenarios`, wherever this installation keeps it."""
    if name not in BUNDLES:
        raise ValueError(f"{name!r} is not one of the harness's folders {BUNDLES}")
    return CHECKOUT / name if in_checkout() else BUNDLED / name


def reports_home() -> Path:
    """Where runs go when no folder is given."""
    return CHECKOUT / "reports" if in_checkout() else Path.cwd() / "reports"


SCENARIOS_DIR = bundled("scenarios")  # the conformance suite `harness assess` runs
REPORTS_DIR = reports_home()  # where runs go when no folder is given
