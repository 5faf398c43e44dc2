"""Lineage: hashes of every input and output, the run manifest, and re-verification of a run.

Why: a workpaper is evidence only if anyone can show later that its inputs and outputs are the ones
the run used and produced. Inputs are copied into the run folder and hashed before any test reads
them; the manifest lists the SHA-256 of every file; ``verify_run`` re-hashes everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
INPUTS_DIR = "inputs"
KEY_PACKAGES = (
    "audit-workbench", "pandas", "numpy", "scipy", "pyarrow", "duckdb", "papermill", "nbconvert",
    "nbclient", "nbformat", "ipykernel", "pydantic", "PyYAML", "matplotlib", "openpyxl", "Jinja2",
)


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks so large populations stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FrozenInput:
    """One source file as frozen into the run: where it came from, where the copy is, its hash."""

    source_id: str
    original_path: str
    frozen_path: str  # relative to the run folder
    sha256: str
    size_bytes: int


def freeze_inputs(sources: dict[str, Path], run_dir: Path) -> dict[str, FrozenInput]:
    """Copy each source file into ``run_dir/inputs/<source_id>/`` and hash the copy.

    The copy is what every notebook reads, so a file changed on disk after the run started cannot
    change the evidence. The copy's hash is checked against the original's to catch a torn copy.
    """
    frozen: dict[str, FrozenInput] = {}
    for source_id, original in sorted(sources.items()):
        target = run_dir / INPUTS_DIR / source_id / original.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original, target)
        digest = file_sha256(target)
        if digest != file_sha256(original):
            raise RuntimeError(f"input {original} changed while it was being copied into the run; run again")
        frozen[source_id] = FrozenInput(
            source_id=source_id,
            original_path=str(original),
            frozen_path=target.relative_to(run_dir).as_posix(),
            sha256=digest,
            size_bytes=target.stat().st_size,
        )
    return frozen


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the workbench and its key dependencies (``not installed`` if absent)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(path: Path) -> str | None:
    """The git commit of the checkout holding ``path`` (with ``-dirty`` if it has changes), or None."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def hash_outputs(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file in the run folder except the manifest itself, keyed by relative path."""
    hashes = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(run_dir).as_posix()
        if relative != MANIFEST:
            hashes[relative] = file_sha256(path)
    return hashes


def write_json_atomically(path: Path, document: Any) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def write_manifest(run_dir: Path, document: dict[str, Any]) -> Path:
    """Write ``manifest.json`` with the given content plus the hash of every file in the run."""
    document = dict(document)
    document["files"] = hash_outputs(run_dir)
    path = run_dir / MANIFEST
    write_json_atomically(path, document)
    return path


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run folder, with a clear error if it is missing or unreadable."""
    path = run_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a workbench run: it has no {MANIFEST}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}): the manifest was altered") from None


def verify_hashes(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Differences between the files of a run and the hashes its manifest recorded (empty if none)."""
    recorded: dict[str, str] = manifest.get("files", {})
    actual = hash_outputs(run_dir)
    problems = []
    for relative, digest in sorted(recorded.items()):
        if relative not in actual:
            problems.append(f"missing: {relative} (listed in the manifest, not in the run folder)")
        elif actual[relative] != digest:
            problems.append(f"changed: {relative} (SHA-256 {actual[relative][:12]}… differs from recorded {digest[:12]}…)")
    for relative in sorted(set(actual) - set(recorded)):
        problems.append(f"added: {relative} (not listed in the manifest)")
    for source_id, entry in sorted(manifest.get("inputs", {}).items()):
        if recorded.get(entry["frozen_path"]) != entry["sha256"]:
            problems.append(f"input {source_id}: manifest's input hash disagrees with its file list")
    return problems


def runtime_metadata() -> dict[str, str]:
    """Where the run happened (machine, platform, interpreter): run metadata, never results."""
    return {"platform": platform.platform(), "machine": platform.machine(), "executable": sys.executable}
