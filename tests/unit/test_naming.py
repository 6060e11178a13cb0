"""The site's naming rule: every name the harness makes honours it, and content sent as a name
is fitted (benign) or not sent, with the reason (prohibited), never cut into another probe."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from harness.errors import ConfigError
from harness.observe.flow import CaseRun, Session, new_account
from harness.observe.rates import RateCaseRun
from harness.policy import load_policy
from harness.probes.cases import MUST_ALLOW, TEXT_PROBES, build_case
from harness.targets.accounts import AccountRules, Naming
from harness.targets.api import ApiTarget
from harness.targets.profile import load_profile
from harness.verdicts import Verdict

HANDLES = Naming(pattern=r"^[A-Za-z0-9_]{3,20}$", min_length=3, max_length=20,
                 nickname_max_length=16)
BASE = "http://127.0.0.1:9"


@pytest.mark.parametrize("unique", ["ab12", "0123456789_ab12"])
def test_every_made_name_fits_the_rule_and_names_stay_apart(unique: str) -> None:
    names = {HANDLES.account_name(f"john.o'neil-{seed}", f"{unique}{seed}")
             for seed in range(300)}
    assert len(names) == 300
    for name in names:
        assert HANDLES.refusal("account_name", name) is None, name


def test_without_a_rule_names_keep_their_usual_form() -> None:
    assert Naming().account_name("katherine.montgomery42", "ab12") == "katherine.montgo_ab12"


@pytest.mark.parametrize("rule", [
    Naming(pattern=r"^[a-z][a-z0-9]{5,7}$", min_length=6, max_length=8),
    Naming(pattern=r"^[A-Z0-9_]+$", max_length=12),
    Naming(max_length=6),
])
def test_a_tight_rule_gets_names_it_accepts(rule: Naming) -> None:
    for seed in range(50):
        name = rule.account_name(f"Mary-Ann {seed}", f"{seed:010d}_ab12")
        assert rule.refusal("account_name", name) is None, name


def test_a_rule_no_name_can_meet_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nallowed_hosts: [127.0.0.1]\naccounts:\n  naming: {pattern: "
                    "'^q$'}\nbrowser: {register: [], surfaces: {}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cannot make a name .* fits the rule"):
        load_profile(path, base_url=BASE)


@pytest.mark.parametrize(("naming", "wanted"), [
    ("{pattern: '(['}", "not a regular expression"),
    ("{min_length: 9, max_length: 4}", "min_length 9 is above max_length 4"),
])
def test_a_bad_naming_rule_is_refused_at_load(tmp_path: Path, naming: str, wanted: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\nallowed_hosts: [127.0.0.1]\naccounts:\n  naming: {naming}\n"
                    "browser: {register: [], surfaces: {}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(wanted)):
        load_profile(path, base_url=BASE)


def test_personas_fit_the_rule_and_get_their_email() -> None:
    rules = AccountRules(naming=HANDLES, email="{account_name}@board.test")
    for seed in range(100):
        account = new_account("viewer", seed, "ab12", rules)
        assert HANDLES.refusal("account_name", account["account_name"]) is None
        assert len(account["nickname"]) <= 16
        assert account["email"] == f"{account['account_name']}@board.test"
    assert new_account("viewer", 1, "ab12")["email"].endswith("@example.test")


def test_the_latin_canary_cannot_be_a_handle_and_is_not_sent_cut() -> None:
    probe = next(p for p in TEXT_PROBES if p.id == "canary-latin-a")
    case = build_case("account_name", "create", probe, 5, "_").for_naming(HANDLES)
    assert case.unfit is not None
    assert case.unfit.startswith("not sent: the prohibited account_name 'MODHARNESS-CANARY-ALPHA_")
    assert "is longer than 20 and does not match" in case.unfit
    assert "MODHARNESS-CANARY-ALPHA" in case.text  # the probe itself is unchanged


def test_benign_names_are_fitted_and_stay_what_is_sent() -> None:
    for probe in (p for p in TEXT_PROBES if p.expect == MUST_ALLOW):
        for seed in range(40):
            for mode in ("create", "edit"):
                case = build_case("account_name", mode, probe, seed, "_").for_naming(HANDLES)
                assert case.unfit is None or probe.lang == "zh", case.unfit
                if case.unfit is None:
                    assert HANDLES.refusal("account_name", case.text) is None
                    assert case.text.endswith(f"_{case.tag}")
                    assert case.content_sha256 == build_case(
                        "account_name", mode, probe, seed, "_").for_naming(
                        HANDLES).content_sha256
                    if mode == "edit":
                        assert HANDLES.refusal("account_name", case.original) is None


def test_a_joiner_the_rule_refuses_is_named_in_the_reason() -> None:
    probe = next(p for p in TEXT_PROBES if p.id == "benign-en")
    case = build_case("account_name", "create", probe, 3, " ").for_naming(HANDLES)
    assert case.unfit is not None
    assert "`joiner`" in case.unfit


def test_nicknames_are_held_to_their_length_and_other_surfaces_are_untouched() -> None:
    latin = next(p for p in TEXT_PROBES if p.id == "canary-latin-a")
    benign = next(p for p in TEXT_PROBES if p.id == "benign-en")
    assert "longer than 16" in (build_case("nickname", "create", latin, 1).for_naming(
        HANDLES).unfit or "")
    for seed in range(40):
        fitted = build_case("nickname", "create", benign, seed).for_naming(HANDLES)
        assert fitted.unfit is None
        assert len(fitted.text) <= 16
    post = build_case("post", "create", latin, 1)
    assert post.for_naming(HANDLES) == post


PROFILE = """
name: handles
allowed_hosts: [127.0.0.1]
accounts: {naming: {pattern: "^[A-Za-z0-9_]{3,20}$", max_length: 20}}
api:
  register: {method: POST, path: /register, json: {name: "{account_name}"}}
  surfaces:
    account_name:
      author: none
      joiner: "_"
      create: [{register: author, with: {account_name: "{content}"}}]
      edit: [{register: author}]
      observe: [{method: GET, path: "/search", as: [viewer]}]
"""


def test_content_that_cannot_fit_is_inconclusive_and_nothing_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    profile = load_profile(path, base_url=BASE)
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={})

    api = ApiTarget(profile, transport=httpx.MockTransport(answer))
    session = Session(target=api, seed=1, nonce="ab12")
    probe = next(p for p in TEXT_PROBES if p.id == "canary-latin-a")
    result = CaseRun(session, build_case("account_name", "create", probe, 9, "_"),
                     load_policy(None), 9).run()
    assert sent == []
    [observation] = result.observations
    assert observation.verdict is Verdict.INCONCLUSIVE
    assert "the site's naming rule allows only account names of 1-20 characters" in \
        observation.reason


def test_rate_authors_are_named_within_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    api = ApiTarget(load_profile(path, base_url=BASE))
    session = Session(target=api, seed=1, nonce="ab12")
    benign = next(p for p in TEXT_PROBES if p.id == "benign-en")
    names = set()
    for seed in range(1000, 1100):
        run = RateCaseRun(session, build_case("account_name", "create", benign, seed, "_"),
                          load_policy(None), seed, control="A5.4-EVASION-RATE")
        names.add(run.account["account_name"])
        assert re.fullmatch(r"[A-Za-z0-9_]{3,20}", run.account["account_name"])
    assert len(names) == 100


def test_rate_cells_draw_nicknames_the_rule_can_take() -> None:
    from harness.probes.matrix import cell_cases, must_block_pool

    short = Naming(nickname_max_length=16)
    pool = must_block_pool([])
    unruled = cell_cases("nickname", "zero_width", "must_block", 8, 3, pool=pool)
    assert any(short.refusal("nickname", case.text) for case in unruled)
    ruled = cell_cases("nickname", "zero_width", "must_block", 8, 3, pool=pool, naming=short)
    assert len(ruled) == 8
    assert all(short.refusal("nickname", case.text) is None for case in ruled)
    # A family no canary can take within the rule has no case to send, not cut ones.
    assert cell_cases("nickname", "fullwidth", "must_block", 8, 3, pool=pool,
                      naming=Naming(nickname_max_length=14)) == []
