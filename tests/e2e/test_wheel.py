"""An installed wheel works without the checkout: it carries the scenarios and fixtures, finds
them as package files, and assesses the embedded reference site from a folder of its own."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "harness", "reference_site", "fixtures",
           "scenarios")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_bundled")


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The harness built as a wheel from a copy of its sources, installed into a folder."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=SKIP)
        else:
            shutil.copy2(path, source / name)
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "-q", "-w", str(work / "dist"), str(source), cwd=work)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (work / "dist").glob("*.whl")
    target = work / "site"
    done = _run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                str(target), str(wheel), cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    return target


def test_the_wheel_carries_the_scenarios_and_the_fixtures(installed: Path) -> None:
    bundled = installed / "harness" / "_bundled"
    assert (bundled / "scenarios" / "a5_4" / "test_surfaces.py").is_file()
    assert (bundled / "fixtures" / "targets" / "reference.yaml").is_file()
    assert (bundled / "fixtures" / "policies" / "default.yaml").is_file()


def test_an_installed_wheel_assesses_the_reference_site(installed: Path,
                                                         tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = _run(sys.executable, "-c", "import harness.resources as r, harness; "
                 "print(harness.__file__); print(r.bundled('scenarios'))", cwd=tmp_path, env=env)
    module, scenarios = where.stdout.split()
    assert Path(module).is_relative_to(installed), where
    assert Path(scenarios).is_relative_to(installed)
    done = _run(sys.executable, "-m", "harness.cli", "assess", "--channel", "api", "--control",
                "A5.4-POST", "--seed", "7", cwd=tmp_path, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run,) = [p for p in (tmp_path / "reports").iterdir() if p.is_dir() and not p.is_symlink()]
    verdicts = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert verdicts["complete"] is True
    assert "A5.4-POST" in (run / "evidence.jsonl").read_text(encoding="utf-8")
