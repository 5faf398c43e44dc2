"""Populations: read access-control exports into canonical tables, with IPE evidence.

Every test of an access control starts from a population: the HR worker list, the accounts of a
system, the grants (account x entitlement), the decisions of a review campaign, the access tickets,
the identity provider's event log. This package turns each export file into one *canonical* table
whose column names and dtypes are a contract the analytics code relies on, and records the
completeness-and-accuracy evidence an auditor needs for information produced by the entity (IPE):
which file, its SHA-256, the declared extraction time, row and column counts, key uniqueness,
empty values, control totals, the reader options used and anything skipped, dropped or rejected.

Principles (see DESIGN.md section 3):

- Every value is read as text first, so leading zeros (``004217``), ``N/A``, ``null`` and
  formula-looking text (``=cmd|...``) survive unchanged. Whitespace around values and headers is
  stripped. Values are then converted column by column, and a value that does not fit raises
  :class:`PopulationError` naming the file, the line, the column, what was expected and what was
  found. Nothing is guessed, shifted or silently dropped.
- Day/month order is never guessed: a value like ``03/04/2026`` is refused unless the source
  declares ``date_format``/``timestamp_format`` (the error says so).
- Join keys (e-mails, logins) are casefolded; the values as exported stay in ``*_original``
  columns.
- Date-only values become ``datetime64[s]`` (naive, midnight). Timestamps become
  ``datetime64[us, UTC]``; values without a zone are read in the zone declared for the source.
- Sentinels (``N/A``, ``no_information``, ``not_supported``, ``Never logged in``, an empty
  ``lastLogin``, epoch zero) are *states*, carried in ``*_state`` columns next to a NaT, never
  turned into dates.
- Every canonical row keeps ``line``: the 1-based line of the source file where its record
  starts (the header is line 1, or the line after a declared preamble), so an exception can cite
  its evidence row. For an .xlsx file it is the worksheet row, for a Parquet file the 1-based
  record number (messages then say "row").
- Exact duplicate lines (every field the same) are dropped where a repeat is the same fact
  (review decisions, assignments, events) and listed in the evidence, never silently.

Files: CSV (any reader; ``,`` by default, other delimiters declared or sniffed), .xlsx (openpyxl,
formulas read as their text, never evaluated), Parquet (pyarrow) and, for the Okta System Log,
NDJSON or a JSON array. Every CSV file is parsed by Arrow with every column as text and checked
with vectorised Arrow compute, whatever its size; a file Arrow cannot vouch for (not UTF-8, a NUL
byte, a header row spanning lines, a malformed row it cannot place) goes through the ``csv``
module instead, with a note in its evidence saying why, as does a source declaring ``fast: false``.
Both give the same table, the same line numbers and the same errors.

The entry point is :func:`load_source`; :data:`READERS` maps each export kind to its reader
(called with one :class:`ReadContext`), and :data:`READER_OPTIONS` lists the options each kind
accepts. Everything named here is importable from the package; its modules follow a read:

- ``registry``: the export kinds, their readers and options, and :func:`load_source`;
- ``context``: :class:`ReadContext`, what the period's YAML declares for one source;
- ``readers/``: one module per family of exports: ``hr``, ``identity`` (Okta, Entra ID, Google
  Workspace), ``events`` (the Okta System Log), ``cloud`` (AWS IAM), ``applications`` (ERP,
  GitHub), ``reviews`` (certification campaigns), ``tickets`` (ServiceNow), ``policy`` (SoD
  rules, approved privileged access, SoD mitigations) and ``mapped`` (any other export through
  a declared column mapping);
- ``source``: the contract check of one export (columns found in the header, values converted
  column by column, every bad value named by its line) and its evidence; ``timestamps`` its
  date and timestamp converters; ``frames`` the building blocks of canonical frames;
- ``formats``: any file into a raw text table by its suffix, through ``csv_exact`` (the ``csv``
  module), ``csv_fast`` (Arrow), ``xlsx`` or ``parquet``, on ``files`` (bytes, decoding, the raw
  table) and ``hashing`` (SHA-256, and the quote check run beside the Arrow parse);
- ``options``: reader options and their validation; ``arrowtext``: text helpers for Arrow and
  pandas;
- ``evidence``: :class:`IPEEvidence`, :class:`Population`, key checks and control totals;
  ``errors``: :class:`PopulationError` and the rows set aside; ``contract``: the canonical
  columns, states and dtypes;
- ``derived``: :func:`erp_accounts`, :func:`github_accounts` and :func:`reconcile`;
- ``staged``: a large export kept in Parquet, read batch by batch through its own reader with the
  same table and evidence (the period file's ``large_population_size``).
"""

from __future__ import annotations

# The names of __all__; as ``X as X``, the other public names of the former single module
# and ``_QuoteCheck``, which the tests use.
from .context import ReadContext
from .contract import (
    ACCOUNT_COLUMNS,
    ACCOUNT_STATUSES,
    CAMPAIGN_COLUMNS,
    DEFAULT_PRIVILEGED_ENTITLEMENTS,
    EVENT_COLUMNS,
    GRANT_COLUMNS,
    IDENTITY_COLUMNS,
    PRIVILEGED_APPROVAL_COLUMNS,
    REQUEST_COLUMNS,
    REVIEW_DECISION_COLUMNS,
    SOD_RULE_COLUMNS,
)
from .contract import DATE_DTYPE as DATE_DTYPE
from .contract import NEVER as NEVER
from .contract import NO_INFORMATION as NO_INFORMATION
from .contract import NOT_APPLICABLE as NOT_APPLICABLE
from .contract import NOT_SUPPORTED as NOT_SUPPORTED
from .contract import SET as SET
from .contract import TIMESTAMP_DTYPE as TIMESTAMP_DTYPE
from .contract import USED as USED
from .derived import Reconciliation, erp_accounts, github_accounts, reconcile
from .errors import DuplicateKey, DuplicateRow, PopulationError, RejectedRow
from .evidence import IPEEvidence, Population
from .hashing import _QuoteCheck as _QuoteCheck
from .hashing import file_sha256
from .options import COMMON_OPTIONS
from .readers.applications import read_github_org_members as read_github_org_members
from .readers.applications import read_ledgerline_erp_user_roles as read_ledgerline_erp_user_roles
from .readers.cloud import read_aws_iam_credential_report as read_aws_iam_credential_report
from .readers.cloud import read_aws_iam_group_memberships as read_aws_iam_group_memberships
from .readers.events import read_okta_system_log as read_okta_system_log
from .readers.hr import read_workday_workers as read_workday_workers
from .readers.identity import read_entra_users as read_entra_users
from .readers.identity import read_google_workspace_users as read_google_workspace_users
from .readers.identity import read_okta_app_assignments as read_okta_app_assignments
from .readers.identity import read_okta_users as read_okta_users
from .readers.mapped import MAPPED_TABLES
from .readers.mapped import read_mapped as read_mapped
from .readers.policy import read_privileged_access_approved as read_privileged_access_approved
from .readers.policy import read_sod_mitigations as read_sod_mitigations
from .readers.policy import read_sod_rules as read_sod_rules
from .readers.reviews import read_campaign_decisions as read_campaign_decisions
from .readers.reviews import read_campaign_status as read_campaign_status
from .readers.tickets import read_servicenow_access_requests as read_servicenow_access_requests
from .registry import READER_OPTIONS, READERS, load_source
from .registry import Reader as Reader

__all__ = [
    "ACCOUNT_COLUMNS",
    "ACCOUNT_STATUSES",
    "CAMPAIGN_COLUMNS",
    "COMMON_OPTIONS",
    "DEFAULT_PRIVILEGED_ENTITLEMENTS",
    "DuplicateKey",
    "DuplicateRow",
    "EVENT_COLUMNS",
    "FAST_PATH_BYTES",
    "GRANT_COLUMNS",
    "IDENTITY_COLUMNS",
    "IPEEvidence",
    "MAPPED_TABLES",
    "Population",
    "PopulationError",
    "PRIVILEGED_APPROVAL_COLUMNS",
    "READERS",
    "READER_OPTIONS",
    "REQUEST_COLUMNS",
    "REVIEW_DECISION_COLUMNS",
    "Reconciliation",
    "ReadContext",
    "RejectedRow",
    "SOD_RULE_COLUMNS",
    "erp_accounts",
    "file_sha256",
    "github_accounts",
    "load_source",
    "reconcile",
]

#: CSV files larger than this many bytes are read through Arrow (vectorised) unless the source
#: declares ``fast: false``; smaller ones go through the ``csv`` module. 0: every CSV file takes
#: the Arrow path (one reading path at every size; the csv module is about 6 s per 100 MB here,
#: 5-10 times Arrow even on the demo's small files). Both paths give the same table, line numbers,
#: rejections and errors: the Arrow path hands anything it cannot vouch for (odd quoting, bytes
#: that are not UTF-8, a ragged row) to the csv module to name the line. The setting is this
#: attribute of the package: the reading code (``formats``) looks it up here at every read.
FAST_PATH_BYTES = 0
