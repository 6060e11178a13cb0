"""Signatures: a signed run verifies with its public key and fails once anything changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import cli
from harness.errors import ConfigError
from harness.evidence import EVIDENCE_KEY_ENV, RunStore, verify_run
from harness.evidence.chain import SIGNATURE_FILE
from harness.evidence.sign import check_signature, keygen, load_public_key
from harness.verdicts import EXIT_BAD_SIGNATURE, EXIT_NOT_INTACT, EXIT_USAGE


@pytest.fixture(autouse=True)
def _no_evidence_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(EVIDENCE_KEY_ENV, raising=False)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return keygen(tmp_path / "assessor")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    store = RunStore.create(tmp_path / "reports", run_id="signed-run")
    store.write_run_info({"seed": 7})
    store.append({"entry_type": "run_start", "seed": 7})
    store.write_artifact("case/exchanges.json", json.dumps([{"status": 200}]))
    store.append({"entry_type": "run_end", "complete": True})
    store.finalize()
    return store.path


def _sign(run: Path, key: Path) -> int:
    return cli.main(["sign", str(run), "--key", str(key)])


def _verify(run: Path, pub: Path) -> int:
    return cli.main(["verify", str(run), "--key", str(pub)])


def test_a_signed_run_verifies_with_its_public_key(run: Path, keys: tuple[Path, Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    private, public = keys
    assert _sign(run, private) == 0
    assert (run / SIGNATURE_FILE).is_file()
    assert verify_run(run).ok  # the signature is beside the manifest, not an added file
    assert _verify(run, public) == 0
    assert "signature valid" in capsys.readouterr().out


def test_a_changed_artifact_fails_verify(run: Path, keys: tuple[Path, Path],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    private, public = keys
    assert _sign(run, private) == 0
    (run / "artifacts" / "case" / "exchanges.json").write_text("[]", encoding="utf-8")
    assert _verify(run, public) == EXIT_NOT_INTACT
    assert "sha256 mismatch" in capsys.readouterr().out


def test_a_resealed_manifest_fails_the_signature(run: Path, keys: tuple[Path, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Anyone can rebuild the chain and the manifest after changing a run; only the key's
    owner can sign the new manifest."""
    private, public = keys
    assert _sign(run, private) == 0
    store = RunStore.open(run)
    store.append({"entry_type": "observation", "control": "A5.4-POST", "verdict": "pass"})
    store.finalize()
    assert verify_run(run).ok
    assert _verify(run, public) == EXIT_BAD_SIGNATURE
    assert "the manifest changed since it was signed" in capsys.readouterr().out


def test_another_key_or_no_signature_fails(run: Path, keys: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    private, _ = keys
    _, other = keygen(tmp_path / "other")
    assert _verify(run, keys[1]) == EXIT_BAD_SIGNATURE  # never signed
    assert _sign(run, private) == 0
    assert _verify(run, other) == EXIT_BAD_SIGNATURE
    assert "not by the given key" in check_signature(run, load_public_key(other)).problem


def test_a_forged_signature_fails(run: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert _sign(run, private) == 0
    recorded = json.loads((run / SIGNATURE_FILE).read_text(encoding="utf-8"))
    recorded["signature"] = recorded["signature"][::-1]
    (run / SIGNATURE_FILE).write_text(json.dumps(recorded), encoding="utf-8")
    check = check_signature(run, load_public_key(public))
    assert not check.ok
    assert "does not match" in check.problem


def test_a_run_that_does_not_verify_is_not_signed(run: Path, keys: tuple[Path, Path]) -> None:
    (run / "artifacts" / "case" / "exchanges.json").write_text("[]", encoding="utf-8")
    assert _sign(run, keys[0]) == EXIT_NOT_INTACT
    assert not (run / SIGNATURE_FILE).exists()


def test_bad_keys_are_usage_errors(run: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    assert _sign(run, public) == EXIT_USAGE  # a public key cannot sign
    assert _verify(run, private) == EXIT_USAGE  # nor a private one verify
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key", encoding="utf-8")
    assert _verify(run, junk) == EXIT_USAGE
    with pytest.raises(ConfigError, match="exists"):
        keygen(private)


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    assert cli.main(["keygen", str(tmp_path / "k")]) == 0
    assert (tmp_path / "k").stat().st_mode & 0o077 == 0
    assert (tmp_path / "k.pub").read_text(encoding="utf-8").startswith("-----BEGIN PUBLIC KEY")
