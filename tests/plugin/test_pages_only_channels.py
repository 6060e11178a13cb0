"""A pages-only profile (no `api` section) is assessed through its pages: the default channel
becomes the browser, `--channel all` the browser and the load, and asking for the API by name
is a usage error."""

from __future__ import annotations

import pytest
import yaml

from harness.targets.profile import REFERENCE_PROFILE

INPROCESS = ("-p", "no:cacheprovider", "-p", "no:playwright", "--base-url", "http://127.0.0.1:9")
SCENARIO = """
    import pytest

    @pytest.mark.control("A5.4-POST")
    def test_every_channel(channel):
        pass

    @pytest.mark.one_channel
    @pytest.mark.control("A5.4-EVASION-CASE")
    def test_once(channel):
        pass

    @pytest.mark.channel("load")
    @pytest.mark.control("A5.4-UNDER-LOAD")
    def test_under_load(channel):
        pass
"""


@pytest.fixture
def pages_only(pytester: pytest.Pytester) -> str:
    data = yaml.safe_load(REFERENCE_PROFILE.read_text(encoding="utf-8"))
    data.pop("api")
    path = pytester.path / "pages-only.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    pytester.makepyfile(SCENARIO)
    return str(path)


@pytest.mark.parametrize("given", [(), ("--channel", "all")], ids=["default", "all"])
def test_a_pages_only_profile_is_assessed_through_its_pages(pytester, pages_only, given):
    result = pytester.runpytest_inprocess(*INPROCESS, "--target-profile", pages_only, *given,
                                          "--co", "-q")
    listed = result.stdout.str()
    assert "test_every_channel[browser]" in listed
    assert "test_once[browser]" in listed
    assert "[api]" not in listed
    # The load channel's users drive the browser steps as form posts: `all` keeps it.
    assert ("test_under_load[load]" in listed) == bool(given)


def test_asking_for_its_api_is_a_usage_error(pytester, pages_only):
    result = pytester.runpytest_inprocess(*INPROCESS, "--target-profile", pages_only,
                                          "--channel", "api", "--co", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "the profile has no api section" in result.stderr.str() + result.stdout.str()

