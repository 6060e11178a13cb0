"""Detached Ed25519 signatures over a run's manifest.

The manifest already holds the SHA-256 of every file of the run and the head of its hash
chain, so a signature over the manifest's bytes covers the whole run: `verify_run` proves each
file matches the manifest, and `check_signature` proves the manifest is the one the key's owner
signed. The signature lives beside the manifest in `manifest.sig` (JSON), which the manifest
does not list. A run extended after signing (`--resume`, `followup`) must be signed again.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import ConfigError

from .chain import MANIFEST_FILE, SIGNATURE_FILE, atomic_write, pretty_json, sha256_hex, utc_now_iso

ALGORITHM = "ed25519"


@dataclass(frozen=True)
class SignatureCheck:
    """Outcome of `check_signature`: ok only when `problem` is None."""

    ok: bool
    problem: str | None
    key_id: str | None


def keygen(private_path: Path) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair: the private key (PKCS#8 PEM, mode 0600) at `private_path`
    and the public key (SubjectPublicKeyInfo PEM) at `private_path` + `.pub`. Existing files
    are never overwritten."""
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(f"{path} exists; give another name or remove it first")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
        public_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    except OSError as exc:
        raise ConfigError(f"cannot write the key pair at {private_path}: {exc}") from exc
    return private_path, public_path


def key_id(public: Ed25519PublicKey) -> str:
    """A public key's id: the SHA-256 of its raw 32 bytes (hex), as `manifest.sig` names it."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (unencrypted PKCS#8, as `harness keygen` or
    `openssl genpkey -algorithm ed25519` writes it)."""
    key = _load(path, "private", serialization.load_pem_private_key)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (`openssl pkey -pubout` of the private key)."""
    key = _load(path, "public", serialization.load_pem_public_key)
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def _load(path: Path, kind: str, loader: Any) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {kind} key: {exc.strerror or exc}") from None
    try:
        return loader(data, password=None) if kind == "private" else loader(data)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not an unencrypted PEM {kind} key ({exc})") from None


def sign_run(run_dir: Path, private: Ed25519PrivateKey) -> dict[str, Any]:
    """Sign the run's manifest as it is now; write and return `manifest.sig`. The caller
    verifies the run first: signing a run that does not verify would vouch for tampering."""
    manifest = _manifest_bytes(run_dir)
    signature = {
        "algorithm": ALGORITHM,
        "key_id": key_id(private.public_key()),
        "manifest_sha256": sha256_hex(manifest),
        "signature": base64.b64encode(private.sign(manifest)).decode("ascii"),
        "signed": utc_now_iso(),
    }
    try:
        atomic_write(run_dir / SIGNATURE_FILE, pretty_json(signature).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot write {run_dir / SIGNATURE_FILE}: {exc}") from None
    return signature


def check_signature(run_dir: Path, public: Ed25519PublicKey) -> SignatureCheck:
    """Whether `manifest.sig` is a valid signature, by `public`, over the manifest as it is."""
    path = run_dir / SIGNATURE_FILE
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return SignatureCheck(False, f"{SIGNATURE_FILE}: missing (the run was never signed; "
                              "`harness sign RUN --key KEY`)", None)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return SignatureCheck(False, f"{SIGNATURE_FILE}: unreadable ({exc})", None)
    if not isinstance(recorded, dict) or recorded.get("algorithm") != ALGORITHM:
        return SignatureCheck(False, f"{SIGNATURE_FILE}: not an {ALGORITHM} signature", None)
    signer = recorded.get("key_id")
    expected = key_id(public)
    if signer != expected:
        return SignatureCheck(False, f"{SIGNATURE_FILE}: signed by key {str(signer)[:16]}, "
                              f"not by the given key {expected[:16]}", signer)
    try:
        manifest = _manifest_bytes(run_dir)
    except ConfigError as exc:
        return SignatureCheck(False, str(exc), signer)
    try:
        raw = base64.b64decode(str(recorded.get("signature")), validate=True)
        public.verify(raw, manifest)
    except (binascii.Error, InvalidSignature):
        changed = sha256_hex(manifest) != recorded.get("manifest_sha256")
        why = ("the manifest changed since it was signed (the run was altered, resealed or "
               "extended; sign it again if that was intended)") if changed \
            else "the signature does not match the manifest"
        return SignatureCheck(False, f"{SIGNATURE_FILE}: {why}", signer)
    return SignatureCheck(True, None, signer)


def _manifest_bytes(run_dir: Path) -> bytes:
    try:
        return (run_dir / MANIFEST_FILE).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{run_dir / MANIFEST_FILE}: cannot read: {exc.strerror or exc}") \
            from None
