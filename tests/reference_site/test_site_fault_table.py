"""The fault table is the single source of fault checks.

Every member of `Fault` is consulted somewhere in the site's code, every consulted name is a
member, and no fault name is spelt as a string literal outside the table, so no check can
drift from the table or be silently false.
"""

from __future__ import annotations

import ast
from pathlib import Path

import reference_site
from reference_site.faults import Fault

SITE = Path(reference_site.__file__).parent
FAULTS_FILE = SITE / "faults.py"


def _modules() -> list[Path]:
    return sorted(SITE.rglob("*.py"))


def _outside_table(tree: ast.Module) -> list[ast.AST]:
    """The nodes of a module, minus the body of `class Fault` (the table itself)."""
    table = [node for node in tree.body
             if isinstance(node, ast.ClassDef) and node.name == "Fault"]
    skipped = {id(node) for cls in table for node in ast.walk(cls)}
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def _consulted() -> dict[str, list[str]]:
    """`Fault.<NAME>` references outside the table: name -> the files that make them."""
    found: dict[str, list[str]] = {}
    for path in _modules():
        for node in _outside_table(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "Fault" and node.attr.isupper()):
                found.setdefault(node.attr, []).append(path.relative_to(SITE).as_posix())
    return found


def test_every_fault_in_the_table_is_consulted() -> None:
    unused = sorted(set(Fault.__members__) - set(_consulted()))
    assert not unused, f"faults in the table that no code consults: {unused}"


def test_every_consulted_fault_is_in_the_table() -> None:
    unknown = {name: files for name, files in _consulted().items()
               if name not in Fault.__members__}
    assert not unknown, f"code consults faults the table does not have: {unknown}"


def test_no_fault_name_is_spelt_as_a_string_outside_the_table() -> None:
    names = {fault.value for fault in Fault}
    literals = [
        (path.relative_to(SITE).as_posix(), node.lineno, node.value)
        for path in _modules()
        for node in _outside_table(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not literals, f"fault names as string literals (use Fault members): {literals}"


def test_templates_leave_faults_to_the_code() -> None:
    """Pages get booleans from the code; no template decides on a fault by name."""
    names = {fault.value for fault in Fault}
    for template in (SITE / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not [name for name in names if name in text], template.name
