"""Computer operations exports as the products' APIs return them: AWS Backup's
``list-backup-jobs`` (``{"BackupJobs": [...]}``, pages' arrays concatenated) -> ``job_runs``."""

from __future__ import annotations

import json
import re

from ..context import ReadContext
from ..errors import PopulationError
from ..evidence import Population
from ..files import _decode, _read_bytes
from ..frames import _constant, _frame
from ..source import _Source
from ..timestamps import _check_timezone
from .changes import JSON_OPTIONS, _raw_table
from .events import _dig, _json_records

_AWS_EXAMPLE = "2026-07-14T09:12:33.843000+00:00"
# AWS Backup job states: a PARTIAL job backed up only part of the resource; EXPIRED never started.
_BACKUP_STATES = {"COMPLETED": "success", "PARTIAL": "warning", "FAILED": "failed", "ABORTED": "cancelled",
                  "EXPIRED": "failed", "CREATED": "running", "PENDING": "running", "RUNNING": "running",
                  "ABORTING": "running"}
_FIELDS = ("BackupJobId", "BackupVaultName", "ResourceArn", "ResourceName", "ResourceType", "CreationDate",
           "CompletionDate", "State", "StatusMessage", "CreatedBy.BackupRuleId")


def read_aws_backup_jobs(ctx: ReadContext) -> Population:
    """AWS Backup jobs (``aws backup list-backup-jobs``: an object whose ``BackupJobs`` array lists
    the jobs; several pages' arrays may be concatenated into one JSON array) -> ``job_runs`` (key
    ``run_id``).

    A job is a backup of one resource: ``job_name`` is the resource's name (``ResourceName``, else
    its ARN); ``State`` COMPLETED is a success, PARTIAL a warning, FAILED and EXPIRED failures.
    The source's ``system`` names the system the backups protect.
    """
    kind = "aws_backup_jobs"
    _check_timezone(ctx.timezone)
    if ctx.system is None:
        raise PopulationError(ctx.file, "declare the source's system: the system these backups protect.")
    options = ctx.reader_options(kind, JSON_OPTIONS)
    data = _read_bytes(ctx.path, ctx.file)
    text, encoding = _decode(data, ctx.file, options.encoding)
    found = re.search(r'"BackupJobs"\s*:\s*\[', text)
    if found is None and not text.lstrip().startswith("["):
        raise PopulationError(ctx.file, "expected the output of aws backup list-backup-jobs: an object with a "
                                        "\"BackupJobs\" array, or that array itself.")
    if found is not None:  # the array, with the lines above it kept so each job keeps its line
        start = found.end() - 1
        _, end = json.JSONDecoder().raw_decode(text, start)
        text = "\n" * text.count("\n", 0, start) + text[start:end]
    file_format, records, _ = _json_records(text, ctx.file)
    rows = []
    for line, obj in records:
        if not isinstance(obj, dict):
            raise PopulationError(ctx.file, f"expected a backup job object, found {type(obj).__name__}.", row=line)
        rows.append((line, {name: _dig(obj, tuple(name.split("."))) for name in _FIELDS}))
    raw = _raw_table(ctx, rows, _FIELDS, data, encoding, file_format)
    src = _Source(kind, ctx, options=options, raw=raw, required=("BackupJobId", "ResourceArn", "CreationDate",
                                                                  "State"), optional=_FIELDS)
    name = src.text("ResourceName").fillna(src.text("ResourceArn"))
    frame = _frame({
        "run_id": src.text("BackupJobId"),
        "system": _constant(ctx.system, src.n, "string"),
        "job_name": name,
        "job_type": _constant("backup", src.n, "string"),
        "started_at": src.timestamp("CreationDate", example=_AWS_EXAMPLE),
        "ended_at": src.timestamp("CompletionDate", example=_AWS_EXAMPLE),
        "result": src.choice("State", _BACKUP_STATES),
        "result_original": src.text("State"),
        "message": src.text("StatusMessage"),
    }, src.lines)
    return src.population("job_runs", frame, key=("run_id",), totals={"result": "result"})
