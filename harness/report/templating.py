"""The reports' Jinja2 environment: templates under harness/report/templates, HTML escaped,
with the filters the templates share."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")
MARKS = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE",
         "not_applicable": "N/A", "waived": "WAIVED"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(value: Any) -> str:
    """Text safe in a Markdown paragraph or table cell (CommonMark backslash escapes), on
    one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


@cache
def environment() -> Environment:
    """The one environment every report renders with."""
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(("html.j2",), default_for_string=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["mark"] = lambda verdict: MARKS.get(verdict, verdict)
    env.filters["md"] = md_escape
    return env
