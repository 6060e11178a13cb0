"""Evidence of a run: a redacted, hash-chained log plus artifacts and a manifest, and its verifier.

`RunStore` writes `reports/<run-id>/`; `verify_run` proves offline that nothing in it changed.
"""

from __future__ import annotations

from .chain import (
    EVIDENCE_KEY_ENV,
    GENESIS_HASH,
    canonical_json,
    entry_hash,
    read_latest,
    update_latest,
)
from .redact import REDACTED, SENSITIVE_KEYS, Redactor
from .store import RunStore, new_run_id, read_entries
from .verify import VerifyResult, read_run_info, resolve_run, verify_run

__all__ = [
    "EVIDENCE_KEY_ENV",
    "GENESIS_HASH",
    "REDACTED",
    "SENSITIVE_KEYS",
    "Redactor",
    "RunStore",
    "VerifyResult",
    "canonical_json",
    "entry_hash",
    "new_run_id",
    "read_entries",
    "read_latest",
    "read_run_info",
    "resolve_run",
    "update_latest",
    "verify_run",
]
