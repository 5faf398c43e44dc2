"""The prior period's run, as evidence for this period's roll-forward view.

Why: the period-over-period view compares this run with the prior period's run, so that run must be
evidence itself: a completed run (never an ``.incomplete`` folder), of the same entity, of a period
that ends before this one starts, whose files read here still hash to what its manifest recorded, and
whose seal (the preparer's signature of the manifest, the reviewer's sign-off) is stated. What is
read from it — its manifest, seal records, frozen HR roster and listings, each control's population
and exception register — is copied into this run's ``prior_run/`` folder before any control is
tested, so the run is re-performable from its own folder and sealed by its own manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import lineage, runfolder, signing
from workbench.parameters import PeriodParameters

#: Where a run keeps its copy of what it read from the prior period's run.
PRIOR_DIR = "prior_run"
#: The files of each of the prior run's controls that the roll-forward view reads.
CONTROL_FILES = ("population.csv", "exceptions.csv")
SEAL_FILES = (lineage.MANIFEST_SIGNATURE, lineage.SIGNOFF)


class PriorRunRefused(ValueError):
    """A prior run that cannot serve as the prior period's evidence (the message says why)."""


@dataclass(frozen=True)
class PriorRun:
    """A verified prior run: its folder, manifest, parameters and the state of its seal in words."""

    run_dir: Path
    manifest: dict[str, Any]
    parameters: PeriodParameters
    seal: str

    @property
    def run_id(self) -> str:
        return str(self.manifest.get("run_id", self.run_dir.name))

    @property
    def period_id(self) -> str:
        return self.parameters.period.id

    def input_path(self, source_id: str) -> Path:
        """The prior run's frozen copy of one of its sources."""
        return self.run_dir / self.manifest["inputs"][source_id]["frozen_path"]

    def control_file(self, control_id: str, name: str) -> Path | None:
        """A file of one of the prior run's controls (None when that control did not complete there)."""
        return self.run_dir / control_id / name if control_id in completed_controls(self.manifest) else None


def completed_controls(manifest: dict[str, Any]) -> list[str]:
    """The controls a run's manifest records as completed."""
    return sorted(c["control_id"] for c in manifest.get("controls", []) if c.get("status") == "completed")


def resolve(folder: Path) -> Path:
    """The run folder a ``--prior-run`` names: a run folder, or a period folder (its ``latest`` run).

    Refuses a folder that does not exist and an incomplete run (not evidence).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PriorRunRefused(f"prior run {folder}: no such folder; name a completed run folder of the prior "
                              "period (outputs/<period>/<run-id>) or its period folder (outputs/<period>)")
    if not (folder / lineage.MANIFEST).is_file() and (folder / "latest").is_file():
        folder = folder / (folder / "latest").read_text(encoding="utf-8").strip()
    if runfolder.is_incomplete(folder):
        raise PriorRunRefused(f"prior run {folder} is not a completed run (no manifest, or still named or marked "
                              "incomplete); an incomplete run is not evidence: name a completed run of the prior period")
    return folder


def files_read(manifest: dict[str, Any]) -> list[str]:
    """The prior run's files the roll-forward view reads (relative paths): every frozen input and each
    completed control's population and register."""
    inputs = [entry["frozen_path"] for entry in manifest.get("inputs", {}).values()]
    controls = [f"{cid}/{name}" for cid in completed_controls(manifest) for name in CONTROL_FILES]
    return sorted(set(inputs) | set(controls))


def altered_files(run_dir: Path, manifest: dict[str, Any], relatives: list[str]) -> list[str]:
    """Each file read that is missing or no longer hashes to its manifest entry (empty when all hold)."""
    recorded = manifest.get("files", {})
    problems = []
    for relative in relatives:
        path = run_dir / relative
        if relative not in recorded:
            problems.append(f"{relative} is not in its manifest")
        elif not path.is_file():
            problems.append(f"{relative} is missing")
        elif lineage.file_sha256(path) != recorded[relative]:
            problems.append(f"{relative} changed (its SHA-256 differs from the manifest's)")
    return problems


def seal_state(run_dir: Path, manifest_sha256: str) -> str:
    """The prior run's seal in words: who signed its manifest, who signed it off and when.

    A signature that does not hold, or one over another manifest, refuses the run: an altered seal is
    not evidence.
    """
    signature = _signed_record(run_dir, lineage.MANIFEST_SIGNATURE)
    if signature is None:
        return "manifest not signed; not signed off"
    if signature.get("manifest_sha256") != manifest_sha256:
        raise PriorRunRefused(f"prior run {run_dir}: {lineage.MANIFEST_SIGNATURE} was not signed over its manifest "
                              "(manifest edited); it is not evidence")
    words = f"manifest signed by {signature['signer']} (key {signature.get('key_fingerprint', '?')})"
    signoff = _signed_record(run_dir, lineage.SIGNOFF)
    if signoff is None:
        return f"{words}; not signed off"
    if signoff.get("manifest_sha256") != manifest_sha256:
        raise PriorRunRefused(f"prior run {run_dir}: {lineage.SIGNOFF} is not over its manifest; it is not evidence")
    return f"{words}; signed off by {signoff.get('reviewer')} on {str(signoff.get('signed_off_at', ''))[:10]}"


def _signed_record(run_dir: Path, name: str) -> dict[str, Any] | None:
    """A signed record of the run (None when absent); refused when unreadable or its signature fails."""
    from workbench.seal import read_json

    record = read_json(run_dir / name)
    if record is None:
        return None
    problem = "not a readable signed record" if record.get("unreadable") else signing.signature_problem(record)
    if problem:
        raise PriorRunRefused(f"prior run {run_dir}: {name}: {problem}; it is not evidence")
    return record


def open_prior_run(folder: Path, current: PeriodParameters) -> PriorRun:
    """Open and verify the prior run for the period ``current``.

    Refused (``PriorRunRefused``, naming the run and the reason): not a completed run; another
    entity; a period that does not end before this one starts; a file read that changed or went
    missing since its manifest; a seal that does not hold.
    """
    run_dir = resolve(folder)
    manifest = lineage.read_manifest(run_dir)
    prior = PeriodParameters.model_validate(manifest["parameters"])
    name = f"prior run {manifest.get('run_id', run_dir.name)} ({run_dir})"
    if prior.entity != current.entity:
        raise PriorRunRefused(f"{name} is of entity '{prior.entity}', not '{current.entity}'; the prior period's run "
                              "must be of the same entity")
    if prior.period.end >= current.period.start:
        raise PriorRunRefused(f"{name} is period {prior.period.id} ({prior.period.start} to {prior.period.end}), "
                              f"which does not precede period {current.period.id} (from {current.period.start}); "
                              "name a run of an earlier period")
    problems = altered_files(run_dir, manifest, files_read(manifest))
    if problems:
        raise PriorRunRefused(f"{name} was altered since its manifest: {'; '.join(problems)}; it is not evidence "
                              "(run `workbench verify` on it)")
    seal = seal_state(run_dir, lineage.file_sha256(run_dir / lineage.MANIFEST))
    return PriorRun(run_dir, manifest, prior, seal)


def freeze(prior: PriorRun, run_dir: Path) -> Path:
    """Copy what the roll-forward view reads from the prior run into ``run_dir/prior_run/`` (the
    manifest and seal records byte for byte, so the copy verifies as the original does)."""
    target = Path(run_dir) / PRIOR_DIR
    for relative in [lineage.MANIFEST, *[s for s in SEAL_FILES if (prior.run_dir / s).is_file()],
                     *files_read(prior.manifest)]:
        runfolder.make_folder((target / relative).parent)
        runfolder.copy_file(prior.run_dir / relative, target / relative)
    return target


def frozen_prior_run(run_dir: Path, current: PeriodParameters) -> PriorRun | None:
    """The prior run frozen into a run (re-verified from the copy), or None when the run has none."""
    folder = Path(run_dir) / PRIOR_DIR
    return open_prior_run(folder, current) if (folder / lineage.MANIFEST).is_file() else None
