"""Program change exports as the products' REST APIs return them (JSON arrays, pages concatenated):
GitHub pull requests, pull request reviews and deployments, GitLab merge requests and their
approvals -> ``code_changes``, ``code_reviews`` and ``deployments``.

Each object's nested fields are flattened to dotted names (``user.login``, ``base.repo.full_name``)
and read like the columns of a CSV export: the evidence lists them, and every value that does not
read names its line in the file (the line where the object starts).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..context import ReadContext
from ..contract import _TEXT
from ..errors import PopulationError
from ..evidence import Population
from ..files import _decode, _RawTable, _read_bytes
from ..frames import _constant, _frame
from ..options import COMMON_OPTIONS
from ..source import _Source
from ..timestamps import _check_timezone
from .events import _dig, _json_records

_API_EXAMPLE = "2026-07-14T09:12:33Z"
#: The reader options of a JSON API export: its encoding, control total and the transform options.
JSON_OPTIONS: dict[str, str] = {name: text for name, text in COMMON_OPTIONS.items()
                                if name not in ("delimiter", "preamble_lines", "fast", "sheet",
                                                "pad_missing_fields", "number_headers")}
_PULL_URL = re.compile(r"/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)$")
_GITHUB_REVIEW_STATES = {"APPROVED": "approved", "CHANGES_REQUESTED": "changes_requested",
                         "COMMENTED": "commented", "DISMISSED": "dismissed", "PENDING": "pending"}
# GitHub deployment status states (newest first under ``statuses``): inactive is a deployment a
# later one replaced, so it did reach its environment.
_GITHUB_DEPLOYMENT_STATES = {"success": "succeeded", "inactive": "succeeded", "failure": "failed",
                             "error": "failed", "in_progress": "in_progress",
                             "queued": "in_progress", "pending": "in_progress"}


def _json_objects(ctx: ReadContext, kind: str) -> tuple[list[tuple[int, dict[str, Any]]], bytes, str, str]:
    """The objects of a JSON array (or NDJSON) export with the line each starts on."""
    data = _read_bytes(ctx.path, ctx.file)
    text, encoding = _decode(data, ctx.file, ctx.reader_options(kind, JSON_OPTIONS).encoding)
    file_format, records, _ = _json_records(text, ctx.file)
    for line, obj in records:
        if not isinstance(obj, dict):
            raise PopulationError(ctx.file, f"expected a JSON object (one record of the API's "
                                            f"response), found {type(obj).__name__}.", row=line)
    return records, data, encoding, file_format


def _raw_table(ctx: ReadContext, rows: Sequence[tuple[int, dict[str, str | None]]],
               header: Sequence[str], data: bytes, encoding: str, file_format: str) -> _RawTable:
    """Flattened records as the text columns every reader reads (JSON null and absent: empty)."""
    columns = [pa.chunked_array([pa.array([row.get(name) or "" for _, row in rows], _TEXT)], _TEXT)
               for name in header]
    return _RawTable(file=ctx.file, header=list(header), header_line=None, columns=columns,
                     lines=np.asarray([line for line, _ in rows], dtype="int64"),
                     sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                     file_format=file_format, encoding=encoding)


def _flatten(ctx: ReadContext, kind: str, fields: Sequence[str]) -> _RawTable:
    """Every object of the export flattened to ``fields`` (dotted paths; ``[0]`` a list's first)."""
    records, data, encoding, file_format = _json_objects(ctx, kind)
    paths = {name: tuple(int(p) if p.isdigit() else p for p in re.split(r"\.|\[(\d+)\]\.?", name) if p)
             for name in fields}
    rows = [(line, {name: _dig(obj, path) for name, path in paths.items()}) for line, obj in records]
    return _raw_table(ctx, rows, fields, data, encoding, file_format)


def _system_of(src: _Source, ctx: ReadContext, repositories: pd.Series) -> pd.Series:
    """The system each repository builds: the source's declared system, else the repository's
    full name through the period's display names (``systems[].name``)."""
    if ctx.system is not None:
        return _constant(ctx.system, len(repositories), "string")
    names = {k.casefold(): v for k, v in (ctx.display_names or {}).items()}
    systems = repositories.map(lambda r: names.get(str(r).casefold()) if pd.notna(r) else None).astype("string")
    if systems.isna().any():
        line = int(src.lines[int(np.flatnonzero(systems.isna().to_numpy())[0])])
        raise PopulationError(src.file, f"the repository {repositories[systems.isna()].iloc[0]!r} is no "
                                        "system of the period: declare the source's system (the "
                                        "system the repository builds), or name a system after "
                                        "the repository.", row=line)
    return systems


def _code_changes(src: _Source, ctx: ReadContext, repository: pd.Series, *, change_id: pd.Series,
                  author: pd.Series, merged_by: pd.Series, merge_commit: pd.Series, target_branch: pd.Series,
                  source_branch: pd.Series, description: pd.Series, url: pd.Series) -> Population:
    """The ``code_changes`` population of a code host's export, from that product's own columns.

    GitHub and GitLab name the same facts differently; what the procedures need of them (who wrote
    and who merged, casefolded for matching with the original kept for the workpaper; when; into
    which branch) is built here once, so the two products cannot drift apart.
    """
    frame = _frame({
        "system": _system_of(src, ctx, repository),
        "repository": repository,
        "change_id": change_id,
        "title": src.text("title"),
        "author": author.str.casefold(),
        "author_original": author,
        "created_at": src.timestamp("created_at", example=_API_EXAMPLE),
        "merged_at": src.timestamp("merged_at", example=_API_EXAMPLE),
        "merged_by": merged_by.str.casefold(),
        "merged_by_original": merged_by,
        "merge_commit": merge_commit,
        "target_branch": target_branch,
        "source_branch": source_branch,
        "description": description,
        "url": url,
    }, src.lines)
    return src.population("code_changes", frame, key=("system", "change_id"),
                          totals={"system": "system", "target branch": "target_branch"})


def read_github_pull_requests(ctx: ReadContext) -> Population:
    """GitHub pull requests (``GET /repos/{owner}/{repo}/pulls?state=closed``, pages concatenated
    into one JSON array) -> ``code_changes`` (key ``system``, ``change_id``).

    ``change_id`` is ``owner/name#number``; ``merged_by.login`` is read when the export has it
    (the single pull request endpoint gives it). A pull request closed without merging has no
    ``merged_at``: it changed nothing, and the procedures leave it out.
    """
    kind = "github_pull_requests"
    _check_timezone(ctx.timezone)
    fields = ("number", "html_url", "state", "title", "body", "user.login", "created_at", "merged_at",
              "merge_commit_sha", "merged_by.login", "base.ref", "head.ref", "base.repo.full_name")
    raw = _flatten(ctx, kind, fields)
    src = _Source(kind, ctx, options=ctx.reader_options(kind, JSON_OPTIONS), raw=raw,
                  required=("number", "user.login", "base.repo.full_name"), optional=fields)
    repository = src.text("base.repo.full_name")
    return _code_changes(src, ctx, repository, change_id=repository + "#" + src.text("number"),
                         author=src.text("user.login"), merged_by=src.text("merged_by.login"),
                         merge_commit=src.text("merge_commit_sha"), target_branch=src.text("base.ref"),
                         source_branch=src.text("head.ref"), description=src.text("body"),
                         url=src.text("html_url"))


def read_github_pull_reviews(ctx: ReadContext) -> Population:
    """GitHub pull request reviews (``GET /repos/{owner}/{repo}/pulls/{number}/reviews`` for each
    pull request, concatenated into one JSON array) -> ``code_reviews`` (key ``review_id``).

    Each review names its pull request by ``pull_request_url``, read as ``owner/name#number``.
    """
    kind = "github_pull_reviews"
    _check_timezone(ctx.timezone)
    fields = ("id", "user.login", "state", "submitted_at", "commit_id", "pull_request_url", "html_url")
    raw = _flatten(ctx, kind, fields)
    src = _Source(kind, ctx, options=ctx.reader_options(kind, JSON_OPTIONS), raw=raw,
                  required=("id", "user.login", "state", "pull_request_url"), optional=fields)
    urls = src.text("pull_request_url")
    parsed = urls.str.extract(_PULL_URL)
    bad = parsed["repo"].isna().to_numpy()
    if bad.any():
        src.fail("pull_request_url", bad, "a pull request's API address "
                                          "(https://api.github.com/repos/owner/name/pulls/123)")
    repository = parsed["repo"].astype("string")
    reviewer = src.text("user.login")
    frame = _frame({
        "review_id": src.text("id"),
        "system": _system_of(src, ctx, repository),
        "change_id": repository + "#" + parsed["number"].astype("string"),
        "reviewer": reviewer.str.casefold(),
        "reviewer_original": reviewer,
        "state": src.choice("state", _GITHUB_REVIEW_STATES),
        "state_original": src.text("state"),
        "submitted_at": src.timestamp("submitted_at", example=_API_EXAMPLE),
        "commit": src.text("commit_id"),
    }, src.lines)
    return src.population("code_reviews", frame, key=("review_id",), totals={"state": "state"})


def read_github_deployments(ctx: ReadContext) -> Population:
    """GitHub deployments (``GET /repos/{owner}/{repo}/deployments``, pages concatenated) ->
    ``deployments`` (key ``deployment_id``).

    The deployment object has no outcome of its own: an export that adds each deployment's
    statuses (``GET .../deployments/{id}/statuses``, newest first) under ``statuses`` gives the
    newest one's state; without it the status is empty (read as succeeded by the procedure, which
    says so). The source's ``system`` names the system the repository deploys.
    """
    kind = "github_deployments"
    _check_timezone(ctx.timezone)
    if ctx.system is None:
        raise PopulationError(ctx.file, "declare the source's system: the system this repository's "
                                        "deployments change.")
    fields = ("id", "sha", "ref", "task", "environment", "description", "creator.login", "created_at",
              "statuses[0].state")
    raw = _flatten(ctx, kind, fields)
    src = _Source(kind, ctx, options=ctx.reader_options(kind, JSON_OPTIONS), raw=raw,
                  required=("id", "created_at", "environment"), optional=fields)
    creator = src.text("creator.login")
    frame = _frame({
        "deployment_id": src.text("id"),
        "system": _constant(ctx.system, src.n, "string"),
        "environment": src.text("environment"),
        "deployed_at": src.timestamp("created_at", example=_API_EXAMPLE),
        "deployed_by": creator.str.casefold(),
        "deployed_by_original": creator,
        "status": src.choice("statuses[0].state", _GITHUB_DEPLOYMENT_STATES, allow_empty=True),
        "status_original": src.text("statuses[0].state"),
        "commit": src.text("sha"),
        "ref": src.text("ref"),
        "description": src.text("description"),
        "ticket": _constant(pd.NA, src.n, "string"),
    }, src.lines)
    return src.population("deployments", frame, key=("deployment_id",),
                          totals={"environment": "environment", "status": "status"})


def read_gitlab_merge_requests(ctx: ReadContext) -> Population:
    """GitLab merge requests (``GET /projects/:id/merge_requests?state=merged``, pages
    concatenated) -> ``code_changes`` (key ``system``, ``change_id``).

    ``change_id`` is ``<project_id>!<iid>`` (what the approvals endpoint names too); the merge
    commit is ``merge_commit_sha``, or ``squash_commit_sha`` for a squashed merge; who merged is
    ``merge_user`` (``merged_by`` in older GitLab versions).
    """
    kind = "gitlab_merge_requests"
    _check_timezone(ctx.timezone)
    fields = ("iid", "project_id", "title", "description", "state", "created_at", "merged_at",
              "author.username", "merge_user.username", "merged_by.username", "merge_commit_sha",
              "squash_commit_sha", "target_branch", "source_branch", "web_url", "references.full")
    raw = _flatten(ctx, kind, fields)
    src = _Source(kind, ctx, options=ctx.reader_options(kind, JSON_OPTIONS), raw=raw,
                  required=("iid", "project_id", "author.username"), optional=fields)
    full = src.text("references.full")
    repository = full.str.replace(r"!\d+$", "", regex=True).fillna(src.text("project_id"))
    return _code_changes(src, ctx, repository, change_id=src.text("project_id") + "!" + src.text("iid"),
                         author=src.text("author.username"),
                         merged_by=src.text("merge_user.username").fillna(src.text("merged_by.username")),
                         merge_commit=src.text("merge_commit_sha").fillna(src.text("squash_commit_sha")),
                         target_branch=src.text("target_branch"), source_branch=src.text("source_branch"),
                         description=src.text("description"), url=src.text("web_url"))


def read_gitlab_merge_request_approvals(ctx: ReadContext) -> Population:
    """GitLab merge request approvals (``GET /projects/:id/merge_requests/:iid/approvals`` for each
    merge request, concatenated into one JSON array) -> ``code_reviews``, one row per approver.

    The endpoint says who approved (``approved_by[].user.username``) but not when: ``submitted_at``
    is empty, so an approval given after the merge cannot be seen from this export (the procedure
    states it).
    """
    kind = "gitlab_merge_request_approvals"
    _check_timezone(ctx.timezone)
    if ctx.system is None:
        raise PopulationError(ctx.file, "declare the source's system: the system the project builds.")
    records, data, encoding, file_format = _json_objects(ctx, kind)
    header = ("project_id", "iid", "approved_by.user.username")
    rows: list[tuple[int, dict[str, str | None]]] = []
    for line, obj in records:
        approvers = obj.get("approved_by") if isinstance(obj.get("approved_by"), list) else []
        for approver in approvers:
            rows.append((line, {"project_id": _dig(obj, ("project_id",)), "iid": _dig(obj, ("iid",)),
                                "approved_by.user.username": _dig(approver, ("user", "username"))}))
    raw = _raw_table(ctx, rows, header, data, encoding, file_format)
    src = _Source(kind, ctx, options=ctx.reader_options(kind, JSON_OPTIONS), raw=raw, required=header)
    src.notes.append("One row per approver of each merge request; GitLab's approvals endpoint gives "
                     "no approval time (submitted_at is empty).")
    reviewer = src.text("approved_by.user.username")
    change = src.text("project_id") + "!" + src.text("iid")
    frame = _frame({
        "review_id": change + "/" + reviewer,
        "system": _constant(ctx.system, src.n, "string"),
        "change_id": change,
        "reviewer": reviewer.str.casefold(),
        "reviewer_original": reviewer,
        "state": _constant("approved", src.n, "string"),
        "state_original": _constant("approved_by", src.n, "string"),
        "submitted_at": pd.Series(pd.NaT, index=range(src.n), dtype="datetime64[us, UTC]"),
        "commit": _constant(pd.NA, src.n, "string"),
    }, src.lines)
    return src.population("code_reviews", frame, key=("review_id",), totals={"state": "state"})
