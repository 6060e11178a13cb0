"""Every channel implements the `Target` protocol flows rely on (a meta-test over channels)."""

from __future__ import annotations

import inspect

import pytest

from harness.targets.api import ApiTarget, Exchange
from harness.targets.base import Target
from harness.targets.browser import BrowserTarget, PageRead, PageResult, PageVisit

CHANNELS = [ApiTarget, BrowserTarget]
METHODS = [name for name, member in vars(Target).items()
           if inspect.isfunction(member) and not name.startswith("_")]


@pytest.mark.parametrize("kind", CHANNELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_each_channel_takes_what_the_protocol_passes(kind: type, name: str) -> None:
    wanted = list(inspect.signature(getattr(Target, name)).parameters.values())
    implemented = list(inspect.signature(getattr(kind, name)).parameters.values())
    # Flows pass the required arguments by position and the optional ones by name.
    assert len(implemented) >= len(wanted), name
    for asked, given in zip(wanted, implemented, strict=False):
        if asked.default is not inspect.Parameter.empty:
            assert given.name == asked.name, f"{kind.__name__}.{name}: {given} for {asked}"
    extra = [p for p in implemented[len(wanted):]
             if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD]
    assert not extra, f"{kind.__name__}.{name} needs more than the protocol passes: {extra}"


@pytest.mark.parametrize("kind", CHANNELS, ids=lambda c: c.__name__)
def test_each_channel_has_the_protocols_attributes(kind: type) -> None:
    source = inspect.getsource(kind)
    for attribute in ("channel", "profile", "settle_seconds", "unknowable_log_fields", "admin"):
        assert hasattr(kind, attribute) or f"self.{attribute} =" in source, attribute


@pytest.mark.parametrize("result", [Exchange, PageResult, PageRead, PageVisit],
                         ids=lambda c: c.__name__)
def test_step_results_share_one_shape(result: type) -> None:
    members = set(getattr(result, "__dataclass_fields__", {})) | set(dir(result))
    missing = {"url", "status", "error", "ok"} - members
    assert not missing, f"{result.__name__} lacks {missing} of StepResult"
    assert isinstance(vars(result)["ok"], property)
