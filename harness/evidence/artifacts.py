"""Artifacts of a run: files under `artifacts/`, confined to it, redacted as text, never
overwritten by accident.

`ArtifactWriter` holds the guards: the run store writes through one (the controller's
artifacts), and so does every test's evidence while it runs (a worker's screenshots, DOMs,
exchanges), so that the live path and the store refuse and redact alike.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path, PureWindowsPath

from harness.errors import EvidenceError

from .chain import ARTIFACTS_DIR, atomic_write
from .redact import Redactor

# Artifacts are redacted as text by suffix first; unknown suffixes are sniffed (NUL-free UTF-8).
# fmt: off
_TEXT_SUFFIXES = frozenset({
    ".txt", ".log", ".json", ".jsonl", ".har", ".html", ".htm", ".xml", ".csv", ".md",
    ".yaml", ".yml", ".js", ".css", ".svg", ".ini", ".toml", ".eml", ".http",
})
_BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".ico", ".pdf", ".zip", ".gz",
    ".webm", ".mp4", ".ogg", ".wav", ".bin", ".sqlite", ".db",
})
# fmt: on


class ArtifactWriter:
    """Writes files under `<run_dir>/artifacts/` (under its `folder` there, when given: the
    names it is asked for are checked on their own); thread-safe. `lock` is held while
    writing, so a caller sealing the run can hold writes back."""

    def __init__(self, run_dir: Path, redactor: Redactor, folder: str | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.redactor = redactor
        self.folder = folder
        self.lock = threading.Lock()

    def path(self, *parts: str) -> Path:
        """A path under `artifacts/` for a file the caller writes itself; parents are created.

        Parts may contain `/`; `..`, absolute parts and paths that escape the run are refused.
        """
        components = _safe_components(parts)
        if self.folder is not None:
            components = [*_safe_components((self.folder,)), *components]
        root = self.run_dir / ARTIFACTS_DIR
        path = root.joinpath(*components)
        # Checked before mkdir, so a planted symlink cannot make us create directories outside.
        if not path.parent.resolve().is_relative_to(root.resolve()):
            raise EvidenceError(f"artifact path {'/'.join(components)!r} escapes {root}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EvidenceError(f"cannot create {path.parent}: {exc}") from exc
        return path

    def write(self, relpath: str, data: bytes | str, *, text: bool | None = None,
              overwrite: bool = False) -> str:
        """Write an artifact under `artifacts/` and return its run-relative path.

        Text artifacts are redacted. `text=None` decides from the data: str is text; bytes are
        text when the suffix is a text one (.txt, .json, .har, .html, ...) or, for unknown
        suffixes, when they are NUL-free UTF-8. Existing artifacts are kept unless `overwrite`.
        """
        path = self.path(relpath)
        payload = self._payload(path, data, text)
        with self.lock:
            if path.exists() and not overwrite:
                raise EvidenceError(
                    f"artifact {path.relative_to(self.run_dir).as_posix()} already exists; "
                    "use a distinct name or overwrite=True"
                )
            try:
                atomic_write(path, payload)
            except OSError as exc:
                raise EvidenceError(f"cannot write {path}: {exc}") from exc
        return path.relative_to(self.run_dir).as_posix()

    def _payload(self, path: Path, data: bytes | str, text: bool | None) -> bytes:
        if isinstance(data, str):
            if text is False:
                raise EvidenceError(
                    f"artifact {path.name}: text=False but data is str; pass bytes for binary data"
                )
            return self.redactor.redact_text(data).encode("utf-8")
        if isinstance(data, bytes | bytearray | memoryview):
            raw = bytes(data)
            if text is None:
                text = _looks_textual(path, raw)
            return self.redactor.redact_bytes(raw) if text else raw
        raise EvidenceError(
            f"artifact {path.name}: expected bytes or str, got {type(data).__name__}"
        )


def _safe_components(parts: tuple[str, ...]) -> list[str]:
    components: list[str] = []
    for part in parts:
        if not isinstance(part, str) or not part:
            raise EvidenceError(f"artifact path part {part!r}: expected a non-empty string")
        if "\x00" in part:
            raise EvidenceError(f"artifact path part {part!r}: contains a NUL character")
        if part.startswith(("/", "\\")) or PureWindowsPath(part).drive:
            raise EvidenceError(
                f"artifact path part {part!r} is absolute; give a path relative to artifacts/"
            )
        for component in re.split(r"[\\/]", part):
            if component == "..":
                raise EvidenceError(f"artifact path part {part!r}: '..' is not allowed")
            if component not in ("", "."):
                components.append(component)
    if not components:
        raise EvidenceError(f"artifact path {parts!r} names no file")
    return components


def _looks_textual(path: Path, data: bytes) -> bool:
    suffix = path.suffix.lower()
    if suffix in _TEXT_SUFFIXES:
        return True
    if suffix in _BINARY_SUFFIXES or b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
