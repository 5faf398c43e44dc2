"""What a reader is told about one source besides its kind: :class:`ReadContext`, the file and
what the period's YAML declares for it (system, time zone, extraction time, display names,
privileged entitlements, reader options)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .contract import DEFAULT_PRIVILEGED_ENTITLEMENTS
from .files import _display_path
from .options import COMMON_OPTIONS, _Options, _parse_options


@dataclass(frozen=True)
class ReadContext:
    """Everything a reader is told about one source besides its kind: the file and what the
    period's YAML declares for it.

    :func:`load_source` builds one and hands it to the reader registered in :data:`READERS`, so
    the declarations travel as one value instead of eight keyword arguments repeated by every
    reader. The fields mean what the keyword arguments of :func:`load_source` mean.
    """

    path: Path
    system: str | None = None
    timezone: str = "UTC"
    extracted_at: str | None = None
    source_system: str | None = None
    display_names: Mapping[str, str] | None = None
    privileged_entitlements: Mapping[str, Collection[str]] | None = None
    options: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))  # a str is accepted too

    @property
    def file(self) -> str:
        """The file as error messages name it."""
        return _display_path(self.path)

    @property
    def privileged_table(self) -> Mapping[str, Collection[str]]:
        """The privileged-entitlement list in force, by system: the list declared for a system
        (the period file's ``systems[].privileged_entitlements``), else the default."""
        if self.privileged_entitlements is None:
            return DEFAULT_PRIVILEGED_ENTITLEMENTS
        return {**DEFAULT_PRIVILEGED_ENTITLEMENTS, **self.privileged_entitlements}

    def privileged_declared(self, system: str) -> Collection[str] | None:
        """The privileged entitlements declared for ``system`` (not the default), else None."""
        if self.privileged_entitlements is None:
            return None
        return self.privileged_entitlements.get(system)

    def privileged_note(self, system: str) -> str | None:
        """The evidence note saying where ``system``'s privileged-entitlement list came from,
        when it was declared (the defaults need no note: they are documented)."""
        declared = self.privileged_declared(system)
        if declared is None:
            return None
        listed = ", ".join(sorted(declared, key=str.casefold)) or "none"
        return (f"privileged for system '{system}' is derived from the privileged-entitlement list "
                f"declared in the period file (systems[].privileged_entitlements: {listed}), "
                "matched ignoring case.")

    def reader_options(self, kind: str, allowed: Mapping[str, str] = COMMON_OPTIONS
                       ) -> _Options:
        """The declared reader options, checked against those ``kind`` accepts (``allowed``);
        an unknown option or a bad value raises :class:`PopulationError` naming the file."""
        return _parse_options(kind, self.file, self.options, allowed)

    def source_system_for(self, kind: str, default: str | None = None) -> str:
        """The ``source_system`` the evidence records: as declared, else the system id, else
        ``default``, else the usual system of a ``kind`` export."""
        return self.source_system or self.system or default or _DEFAULT_SOURCE_SYSTEM[kind]


_DEFAULT_SOURCE_SYSTEM = {
    "workday_workers": "workday",
    "okta_users": "okta",
    "okta_app_assignments": "okta",
    "ledgerline_erp_user_roles": "ledgerline_erp",
    "github_org_members": "github",
    "aws_iam_credential_report": "aws_prod",
    "aws_iam_group_memberships": "aws_prod",
    "campaign_decisions": "certification_campaign",
    "campaign_status": "certification_campaign",
    "servicenow_access_requests": "servicenow",
    "sod_rules": "policy",
    "privileged_access_approved": "policy",
    "entra_users": "entra_id",
    "google_workspace_users": "google_workspace",
    "okta_system_log": "okta",
    "sod_mitigations": "policy",
    "github_pull_requests": "github",
    "github_pull_reviews": "github",
    "github_deployments": "github",
    "gitlab_merge_requests": "gitlab",
    "gitlab_merge_request_approvals": "gitlab",
    "aws_backup_jobs": "aws_backup",
}
