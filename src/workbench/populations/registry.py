"""The export kinds: :data:`READERS` (kind -> reader), :data:`READER_OPTIONS` (kind -> the reader
options it accepts) and :func:`load_source`, which reads one export with the reader of its kind."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from .context import ReadContext
from .errors import _did_you_mean
from .evidence import Population
from .options import _LOG_OPTIONS, _MAPPED_OPTIONS, COMMON_OPTIONS
from .readers.applications import read_github_org_members, read_ledgerline_erp_user_roles
from .readers.changes import (
    JSON_OPTIONS,
    read_github_deployments,
    read_github_pull_requests,
    read_github_pull_reviews,
    read_gitlab_merge_request_approvals,
    read_gitlab_merge_requests,
)
from .readers.cloud import read_aws_iam_credential_report, read_aws_iam_group_memberships
from .readers.events import read_okta_system_log
from .readers.hr import read_workday_workers
from .readers.identity import (
    read_entra_users,
    read_google_workspace_users,
    read_okta_app_assignments,
    read_okta_users,
)
from .readers.mapped import read_mapped
from .readers.operations import read_aws_backup_jobs
from .readers.policy import read_privileged_access_approved, read_sod_mitigations, read_sod_rules
from .readers.reviews import read_campaign_decisions, read_campaign_status
from .readers.tickets import read_servicenow_access_requests

Reader = Callable[[ReadContext], Population]

#: Export kind -> reader. Every reader takes one :class:`ReadContext` (the file and what is
#: declared for it) and returns a :class:`Population`.
READERS: dict[str, Reader] = {
    "workday_workers": read_workday_workers,
    "okta_users": read_okta_users,
    "okta_app_assignments": read_okta_app_assignments,
    "ledgerline_erp_user_roles": read_ledgerline_erp_user_roles,
    "github_org_members": read_github_org_members,
    "aws_iam_credential_report": read_aws_iam_credential_report,
    "aws_iam_group_memberships": read_aws_iam_group_memberships,
    "campaign_decisions": read_campaign_decisions,
    "campaign_status": read_campaign_status,
    "servicenow_access_requests": read_servicenow_access_requests,
    "sod_rules": read_sod_rules,
    "privileged_access_approved": read_privileged_access_approved,
    "entra_users": read_entra_users,
    "google_workspace_users": read_google_workspace_users,
    "okta_system_log": read_okta_system_log,
    "mapped": read_mapped,
    "sod_mitigations": read_sod_mitigations,
    "github_pull_requests": read_github_pull_requests,
    "github_pull_reviews": read_github_pull_reviews,
    "github_deployments": read_github_deployments,
    "gitlab_merge_requests": read_gitlab_merge_requests,
    "gitlab_merge_request_approvals": read_gitlab_merge_request_approvals,
    "aws_backup_jobs": read_aws_backup_jobs,
}
#: The kinds that read a REST API's JSON array (their options: :data:`JSON_OPTIONS`).
_JSON_KINDS = ("github_pull_requests", "github_pull_reviews", "github_deployments", "gitlab_merge_requests",
               "gitlab_merge_request_approvals", "aws_backup_jobs")

#: Export kind -> the reader options it accepts (see :data:`COMMON_OPTIONS`; ``mapped`` also
#: takes ``table``, ``columns`` and ``values``; the Okta System Log only ``encoding``).
READER_OPTIONS: dict[str, tuple[str, ...]] = {
    kind: tuple(sorted({"mapped": {**COMMON_OPTIONS, **_MAPPED_OPTIONS},
                        "okta_system_log": _LOG_OPTIONS,
                        **dict.fromkeys(_JSON_KINDS, JSON_OPTIONS)}.get(kind, COMMON_OPTIONS)))
    for kind in READERS
}


def load_source(
    kind: str,
    path: Path,
    *,
    system: str | None = None,
    timezone: str = "UTC",
    extracted_at: str | None = None,
    source_system: str | None = None,
    display_names: Mapping[str, str] | None = None,
    privileged_entitlements: Mapping[str, Collection[str]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Population:
    """Read one export into its canonical table with IPE evidence.

    ``kind`` selects the reader (see :data:`READERS`). ``system`` overrides the system id written
    into single-system exports (e.g. a second AWS account); ``timezone`` is the IANA zone of
    values exported without a zone; ``extracted_at`` is recorded as declared; ``source_system``
    labels the evidence (default: ``system`` or the export's system); ``display_names`` maps
    application display names to system ids; ``privileged_entitlements`` (system id -> names)
    replaces :data:`DEFAULT_PRIVILEGED_ENTITLEMENTS` for the systems it names (the evidence notes
    the declared list), the others keep the default; ``options`` are the reader options declared for
    the source in the period's YAML (see :data:`READER_OPTIONS`): each reader checks them and
    names an unknown option or a bad value. The file's suffix picks the format: ``.xlsx``,
    ``.parquet``, otherwise CSV (``.tsv`` defaults to tabs).
    """
    reader = READERS.get(kind)
    if reader is None:
        known = ", ".join(sorted(READERS))
        hint = _did_you_mean(kind, READERS)
        raise ValueError(f"unknown export kind {kind!r};{hint} known kinds: {known}.")
    return reader(ReadContext(
        path=Path(path), system=system, timezone=timezone, extracted_at=extracted_at,
        source_system=source_system, display_names=display_names,
        privileged_entitlements=privileged_entitlements, options=options))
