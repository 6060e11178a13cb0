"""The control catalog: loads, ids unique, one control per surface, clear errors."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from harness import controls
from harness.errors import ConfigError
from harness.targets.profile import SURFACES


def test_catalog_loads_with_controls() -> None:
    catalog = controls.catalog()
    assert catalog
    assert all(isinstance(c, controls.Control) for c in catalog.values())
    assert all(key == control.id for key, control in catalog.items())


def test_ids_are_unique_in_the_data_file() -> None:
    raw = yaml.safe_load(controls.CATALOG_PATH.read_text(encoding="utf-8"))
    ids = [entry["id"] for entry in raw["controls"]]
    assert len(ids) == len(set(ids))
    assert len(ids) == len(controls.catalog())


def test_every_control_has_its_required_fields() -> None:
    for control in controls.catalog().values():
        assert control.id
        assert control.clause in ("5(3)", "5(4)", "5(6)"), control.id
        assert control.title
        assert control.criterion
        assert control.source
        assert isinstance(control.automated, bool)
        assert isinstance(control.gating, bool)


def test_every_per_surface_control_names_a_known_surface() -> None:
    for control in controls.catalog().values():
        if control.surface is not None:
            assert control.surface in SURFACES, control.id


def test_every_surface_has_exactly_one_control() -> None:
    surfaces = [c.surface for c in controls.catalog().values() if c.surface is not None]
    for surface in SURFACES:
        assert surfaces.count(surface) == 1, surface
    assert len(surfaces) == len(SURFACES)


def test_for_surface_finds_the_surface_control() -> None:
    for surface in SURFACES:
        assert controls.for_surface(surface).surface == surface
    assert controls.for_surface("post").id == "A5.4-POST"


def test_for_surface_of_unknown_surface_raises() -> None:
    with pytest.raises(ConfigError, match="no control covers surface 'wall'"):
        controls.for_surface("wall")


def test_get_returns_the_control() -> None:
    assert controls.get("A5.4-POST").surface == "post"


def test_get_unknown_id_raises_naming_known_ids() -> None:
    with pytest.raises(ConfigError) as info:
        controls.get("A5.4-NOPE")
    assert "A5.4-NOPE" in str(info.value)
    assert "A5.4-POST" in str(info.value)


def test_scope_by_pattern_and_channel() -> None:
    post = controls.get("A5.4-POST")
    assert post.in_scope([], ["api"])
    assert post.in_scope(["A5.4-*", "A5.6-*"], ["browser"])
    assert not post.in_scope(["A5.6-*"], ["api", "browser"])
    browser_only = dataclasses.replace(post, channels=("browser",))
    assert not browser_only.in_scope([], ["api"])
    assert browser_only.in_scope([], ["api", "browser"])


def test_check_patterns_refuses_a_pattern_matching_nothing() -> None:
    controls.check_patterns(["A5.4-*", "A5.3-LOG-FIELDS"])
    with pytest.raises(ConfigError, match="matches no control"):
        controls.check_patterns(["A5.4-NOPE*"])


def test_every_id_the_code_names_is_in_the_catalog() -> None:
    named = {name: value for name, value in vars(controls).items()
             if name.startswith("A5_") and isinstance(value, str)}
    assert len(named) >= 12
    for name, value in named.items():
        assert value in controls.catalog(), name
        assert name == value.replace(".", "_").replace("-", "_"), name
