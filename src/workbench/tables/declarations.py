"""The canonical tables, one declaration each, and look-ups by name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .models import (
    ACCOUNT_STATUSES,
    APPROVAL_STATES,
    CHANGE_TYPES,
    DECISIONS,
    DEPLOYMENT_STATUSES,
    IDENTITY_STATUSES,
    INCIDENT_PRIORITIES,
    JOB_RESULTS,
    LAST_LOGIN_STATES,
    REQUEST_ACTIONS,
    REVIEW_STATES,
    Column,
    ColumnType,
    Mappable,
    MappingKind,
    Table,
    _did_you_mean,
)

# --------------------------------------------------------------------------------------------
# Declarations as data: the tables
# --------------------------------------------------------------------------------------------

def _col(name: str, type_: ColumnType, meaning: str, *, required: bool = False,
         values: tuple[str, ...] = (), derived: bool = False) -> Column:
    """A column declaration in one line of the table declarations below."""
    return Column(name=name, type=type_, required=required, meaning=meaning, values=values,
                  derived=derived)


def _original(of: str, *, required: bool = False, what: str = "casefolding") -> Column:
    """The ``<of>_original`` column: the value of ``of`` as exported, kept next to it."""
    words = of.replace("_", " ").replace("email", "e-mail")
    return _col(f"{of}_original", "text", f"The {words} exactly as exported, before {what}.",
                required=required, derived=True)


def _choice_original(of: str, *, required: bool = False) -> Column:
    return _original(of, required=required, what="it was mapped to a canonical value")


_LINE = _col("line", "line", "The line of the export where the row's record starts: the "
                             "evidence reference of the row.", required=True, derived=True)


def _map(column: str, kind: MappingKind, required: bool = False, *, empty: str | None = None,
         allow_empty: bool = False) -> Mappable:
    return Mappable(column=column, kind=kind, required=required, empty=empty,
                    allow_empty=allow_empty)


_IDENTITIES = Table(
    name="identities",
    meaning="The HR worker list: one row per worker, with employment status and termination "
            "dates; the authoritative list of who should have access.",
    key=("employee_id",),
    built_by=("workday_workers", "mapped"),
    columns=(
        _col("employee_id", "text", "The worker's HR employee number, kept as text so leading "
                                    "zeros (004217) survive.", required=True),
        _col("full_name", "text", "The worker's name as HR records it."),
        _col("email", "key", "The worker's work e-mail, casefolded: the usual key to match a "
                             "worker to accounts and review lines.", required=True),
        _original("email", required=True),
        _col("department", "text", "The worker's department (supervisory organisation)."),
        _col("title", "text", "The worker's job title."),
        _col("manager_employee_id", "text", "The employee number of the worker's manager; empty "
                                            "at the top of the organisation."),
        _col("cost_center", "text", "The worker's cost center."),
        _col("hire_date", "date", "The day the worker was hired."),
        _col("status", "choice", "Whether the worker is active, terminated or on leave.",
             required=True, values=IDENTITY_STATUSES),
        _choice_original("status", required=True),
        _col("termination_date", "date", "The day employment ended; empty while employed."),
        _col("last_day_of_work", "date", "The worker's last day of work; access should end by "
                                         "then."),
        _col("termination_reason", "text", "Why the worker left (e.g. Resignation, "
                                           "Involuntary), as HR records it."),
        _col("eligible_for_rehire", "boolean", "Whether HR marks the worker eligible for rehire; "
                                               "empty when not recorded."),
        _LINE,
    ),
    mappable=(
        _map("employee_id", "text", True), _map("full_name", "text"), _map("email", "key", True),
        _map("department", "text"), _map("title", "text"), _map("manager_employee_id", "text"),
        _map("cost_center", "text"), _map("hire_date", "date"),
        _map("status", "choice", True), _map("termination_date", "date"),
        _map("last_day_of_work", "date"), _map("termination_reason", "text"),
        _map("eligible_for_rehire", "boolean"),
    ),
)

_ACCOUNTS = Table(
    name="accounts",
    meaning="The accounts of one system (identity provider, application, cloud account): one row "
            "per account, whether or not a person is behind it, with its status, last sign-in "
            "and authentication settings.",
    key=("system", "account_id"),
    extra_columns=True,
    built_by=("okta_users", "aws_iam_credential_report", "entra_users", "google_workspace_users",
              "mapped"),
    columns=(
        _col("system", "text", "The id of the system the account lives in, as the period's "
                               "parameters declare it (e.g. okta, aws_prod).", required=True),
        _col("account_id", "text", "The account's identifier in the system, as exported (an "
                                   "object id, a user name or a login).", required=True),
        _col("login", "key", "The account's login, casefolded: the key to match the account to "
                             "grants, tickets and people.", required=True),
        _original("login", required=True),
        _col("email", "key", "The e-mail address recorded on the account, casefolded; empty "
                             "when the system records none."),
        _original("email"),
        _col("employee_id", "text", "The HR employee number recorded on the account, where the "
                                    "system keeps one: the strongest link to a worker."),
        _col("display_name", "text", "The account's display name."),
        _col("status", "choice", "The account's status in canonical words; termination tests "
                                 "look for accounts still active after the worker left.",
             required=True,
             values=ACCOUNT_STATUSES),
        _col("status_original", "text", "The status exactly as exported; empty where the export "
                                        "has no status and lists only active accounts.",
             derived=True),
        _col("created_at", "timestamp", "When the account was created."),
        _col("last_login_at", "timestamp", "When the account last signed in; empty when "
                                           "last_login_state says why there is no time."),
        _col("last_login_state", "state", "What last_login_at means: used (a real sign-in "
                                          "time), never signed in, or why the export gives no "
                                          "time.", required=True, values=LAST_LOGIN_STATES,
             derived=True),
        _col("status_changed_at", "timestamp", "When the account's status last changed, e.g. "
                                               "when it was deactivated."),
        _col("mfa_enabled", "boolean", "Whether multi-factor authentication is enabled on the "
                                       "account; empty when the export does not say."),
        _col("password_enabled", "boolean", "Whether the account can sign in with a password; "
                                            "empty when the export does not say."),
        _col("is_root", "flag", "True for a system's root owner account (e.g. the AWS root "
                                "user), which no person should use day to day.", required=True),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("account_id", "text", True), _map("login", "key"),
        _map("email", "key"), _map("employee_id", "text"), _map("display_name", "text"),
        _map("status", "choice", True), _map("created_at", "timestamp"),
        _map("last_login_at", "last_login"), _map("status_changed_at", "timestamp"),
        _map("mfa_enabled", "boolean"), _map("password_enabled", "boolean"),
        _map("is_root", "flag"),
    ),
)

_GRANTS = Table(
    name="grants",
    meaning="Access held: one row per account and entitlement (role, group, application "
            "assignment, org role) of a system, with when it was granted and removed.",
    key=("system", "account_id", "entitlement", "granted_at"),
    extra_columns=True,
    built_by=("okta_app_assignments", "ledgerline_erp_user_roles", "github_org_members",
              "aws_iam_group_memberships", "mapped"),
    columns=(
        _col("system", "text", "The id of the system the entitlement belongs to; empty when the "
                               "export names an application that is not one of the period's "
                               "systems (counted in the evidence)."),
        _col("account_id", "text", "The identifier of the account holding the entitlement, as "
                                   "exported.", required=True),
        _col("login", "key", "The holder's login, casefolded: the key to match the grant to "
                             "accounts, tickets and people.", required=True),
        _original("login", required=True),
        _col("email", "key", "The holder's e-mail address, casefolded; empty when the export has "
                             "none."),
        _original("email"),
        _col("entitlement", "text", "The entitlement held, as the system names it (role, group, "
                                    "application or org role).", required=True),
        _col("entitlement_type", "text", "The kind of entitlement, e.g. role, group, "
                                         "app_assignment or org_role."),
        _col("privileged", "flag", "True when the entitlement is privileged: on the entity's "
                                   "privileged-entitlement list, or flagged so by the mapped "
                                   "export.", required=True),
        _col("granted_at", "timestamp", "When the entitlement was granted; empty for "
                                        "point-in-time listings that do not record it."),
        _col("removed_at", "timestamp", "When the entitlement was removed; empty while it is "
                                        "held."),
        _col("account_status", "choice", "The status of the holding account, where the listing "
                                         "gives it.", values=ACCOUNT_STATUSES),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("account_id", "text", True), _map("login", "key"),
        _map("email", "key"), _map("entitlement", "text", True), _map("entitlement_type", "text"),
        _map("privileged", "flag"), _map("granted_at", "timestamp"),
        _map("removed_at", "timestamp"),
        _map("account_status", "choice", allow_empty=True),
    ),
)

_REVIEW_DECISIONS = Table(
    name="review_decisions",
    meaning="The user access review (certification campaign) export: one row per reviewed "
            "person and access item, with the reviewer's decision.",
    key=("campaign_id", "subject_email", "system", "entitlement"),
    built_by=("campaign_decisions", "mapped"),
    columns=(
        _col("campaign_id", "text", "The review campaign's identifier.", required=True),
        _col("campaign_name", "text", "The review campaign's name."),
        _col("certification_id", "text", "The certification (one reviewer's worklist) the line "
                                         "belongs to."),
        _col("reviewer_name", "text", "The reviewer's name."),
        _col("reviewer_email", "key", "The reviewer's e-mail, casefolded: compared with the "
                                      "subject's to find self-review."),
        _original("reviewer_email"),
        _col("subject_name", "text", "The name of the person whose access is reviewed."),
        _col("subject_email", "key", "The reviewed person's e-mail, casefolded: the key to match "
                                     "the line to people and grants.", required=True),
        _original("subject_email", required=True),
        _col("system", "text", "The id of the system of the access reviewed; empty when the "
                               "campaign's source name is not one of the period's systems "
                               "(counted in the evidence)."),
        _col("application", "text", "The system or application name as the campaign shows it."),
        _col("access_type", "text", "The kind of access reviewed, as exported (e.g. ENTITLEMENT, "
                                    "ROLE)."),
        _col("entitlement", "text", "The access item reviewed (role, group or org role).",
             required=True),
        _col("privileged", "flag", "True when the campaign flags the access item as privileged "
                                   "(a mapped export without the flag: the entity's "
                                   "privileged-entitlement list).", required=True),
        _col("decision", "choice", "The reviewer's decision: approve, revoke, or undecided when "
                                   "no decision was recorded.", required=True, values=DECISIONS),
        _col("decision_original", "text", "The decision exactly as exported, before it was "
                                          "mapped to a canonical value; empty when undecided.",
             derived=True),
        _col("decided_at", "timestamp", "When the decision was made; empty when undecided."),
        _col("comments", "text", "The reviewer's comment, kept as text (a formula-looking value "
                                 "is never evaluated)."),
        _LINE,
    ),
    mappable=(
        _map("campaign_id", "text", True), _map("campaign_name", "text"),
        _map("certification_id", "text"), _map("reviewer_name", "text"),
        _map("reviewer_email", "key"), _map("subject_name", "text"),
        _map("subject_email", "key", True), _map("system", "system"),
        _map("application", "text"), _map("access_type", "text"),
        _map("entitlement", "text", True), _map("privileged", "flag"),
        _map("decision", "choice", True, empty="undecided"),
        _map("decided_at", "timestamp"), _map("comments", "text"),
    ),
)

_CAMPAIGNS = Table(
    name="campaigns",
    meaning="The review campaign status report: one row per campaign, with its dates, "
            "completion counts and sign-off.",
    key=("campaign_id",),
    built_by=("campaign_status", "mapped"),
    columns=(
        _col("campaign_id", "text", "The campaign's identifier, as review_decisions.campaign_id "
                                    "gives it.", required=True),
        _col("campaign_name", "text", "The campaign's name."),
        _col("type", "text", "The kind of campaign, as exported (e.g. MANAGER)."),
        _col("created_at", "timestamp", "When the campaign was created."),
        _col("activated_at", "timestamp", "When the campaign was sent to the reviewers."),
        _col("deadline", "timestamp", "When the decisions were due."),
        _col("status", "text", "The campaign's status, lower-cased (e.g. completed, active)."),
        _original("status", what="it was lower-cased"),
        _col("completed_at", "timestamp", "When the campaign was completed; empty while open."),
        _col("total_items", "integer", "The number of access items in the campaign, as the "
                                       "report counts them."),
        _col("decisions_made", "integer", "The number of items decided, as the report counts "
                                          "them."),
        _col("signed_off_by", "text", "Who signed the campaign off."),
        _col("signed_off_at", "timestamp", "When the campaign was signed off."),
        _LINE,
    ),
    mappable=(
        _map("campaign_id", "text", True), _map("campaign_name", "text"), _map("type", "text"),
        _map("created_at", "timestamp"), _map("activated_at", "timestamp"),
        _map("deadline", "timestamp"), _map("status", "text"), _map("completed_at", "timestamp"),
        _map("total_items", "integer"), _map("decisions_made", "integer"),
        _map("signed_off_by", "text"), _map("signed_off_at", "timestamp"),
    ),
)

_REQUESTS = Table(
    name="requests",
    meaning="Access requests and removal tickets (e.g. ServiceNow requested items): one row per "
            "ticket, with who asked, for whom, for what, the approval and when it was done.",
    key=("ticket",),
    built_by=("servicenow_access_requests", "mapped"),
    columns=(
        _col("ticket", "text", "The ticket number (e.g. RITM0012345).", required=True),
        _col("requested_for", "key", "The person the access change is for (an e-mail), "
                                     "casefolded.", required=True),
        _original("requested_for", required=True),
        _col("opened_by", "key", "Who opened the ticket, casefolded."),
        _original("opened_by"),
        _col("item", "text", "The catalogue item (e.g. Application Access, Access Removal)."),
        _col("system", "text", "The id of the system the request is for; empty when the "
                               "ticket's application is not one of the period's systems."),
        _col("application", "text", "The application name as the ticket shows it."),
        _col("entitlement", "text", "The entitlement to grant or remove."),
        _col("action", "choice", "Whether the ticket grants or revokes access.", required=True,
             values=REQUEST_ACTIONS),
        _choice_original("action", required=True),
        _col("approval", "choice", "The ticket's approval state in canonical words.",
             values=APPROVAL_STATES),
        _choice_original("approval"),
        _col("approver", "key", "Who approved the request, casefolded: compared with "
                                "requested_for to find self-approval."),
        _original("approver"),
        _col("approved_at", "timestamp", "When the request was approved."),
        _col("opened_at", "timestamp", "When the ticket was opened."),
        _col("closed_at", "timestamp", "When the ticket was closed (the change done or "
                                       "abandoned)."),
        _col("state", "text", "The ticket's state as exported (e.g. Closed Complete, Open)."),
        _LINE,
    ),
    mappable=(
        _map("ticket", "text", True), _map("requested_for", "key", True),
        _map("opened_by", "key"), _map("item", "text"), _map("system", "system"),
        _map("application", "text"), _map("entitlement", "text"),
        _map("action", "choice", True), _map("approval", "choice", allow_empty=True),
        _map("approver", "key"), _map("approved_at", "timestamp"),
        _map("opened_at", "timestamp"), _map("closed_at", "timestamp"), _map("state", "text"),
    ),
)

_SOD_RULES = Table(
    name="sod_rules",
    meaning="The entity's segregation-of-duties rule set: one row per pair of conflicting "
            "business functions, with the entitlements that give each.",
    key=("rule_id",),
    built_by=("sod_rules", "mapped"),
    columns=(
        _col("rule_id", "text", "The rule's identifier.", required=True),
        _col("system", "text", "The id of the system the rule applies to.", required=True),
        _col("function_a", "text", "The first business function (e.g. Maintain vendors)."),
        _col("entitlements_a", "list", "The entitlements that give the first function; never "
                                       "empty, or the rule could not fire.", required=True),
        _col("function_b", "text", "The conflicting business function (e.g. Pay vendors)."),
        _col("entitlements_b", "list", "The entitlements that give the conflicting function; "
                                       "never empty.", required=True),
        _col("risk_level", "text", "The risk rating of the conflict, as the rule set states it "
                                   "(e.g. High, Critical)."),
        _col("description", "text", "What could go wrong when one person holds both "
                                    "functions."),
        _col("level", "text", "What the rule's entitlements name: empty or 'entitlement' (the "
                              "entitlements as the listings name them), or 'permission' "
                              "(permissions, which a person holds through any role that "
                              "role_permissions says grants them, or by holding them directly)."),
        _col("system_b", "text", "The system of the conflicting function when it is not the "
                                 "rule's system (a cross-system rule, joined on the person); "
                                 "empty for a rule inside one system."),
        _LINE,
    ),
    mappable=(
        _map("rule_id", "text", True), _map("system", "system", True),
        _map("function_a", "text"), _map("entitlements_a", "list", True),
        _map("function_b", "text"), _map("entitlements_b", "list", True),
        _map("risk_level", "text"), _map("description", "text"),
        _map("level", "text"), _map("system_b", "system"),
    ),
)

_SOD_MITIGATIONS = Table(
    name="sod_mitigations",
    meaning="The SoD mitigation register: one row per approved mitigation of one rule for one "
            "user, with the dates it is valid.",
    key=("mitigation_id",),
    built_by=("sod_mitigations", "mapped"),
    columns=(
        _col("mitigation_id", "text", "The mitigation's identifier.", required=True),
        _col("rule_id", "text", "The SoD rule mitigated, as sod_rules.rule_id gives it.",
             required=True),
        _col("login", "key", "The user's account in the rule's system (or the person's "
                             "e-mail), casefolded.", required=True),
        _original("login", required=True),
        _col("mitigating_control", "text", "The compensating control and its evidence, as the "
                                           "register describes it."),
        _col("approved_by", "key", "Who approved the mitigation, casefolded."),
        _original("approved_by"),
        _col("valid_from", "date", "The first day the mitigation counts.", required=True),
        _col("valid_to", "date", "The last day the mitigation counts; empty when open-ended."),
        _LINE,
    ),
    mappable=(
        _map("mitigation_id", "text", True), _map("rule_id", "text", True),
        _map("login", "key", True), _map("mitigating_control", "text"),
        _map("approved_by", "key"), _map("valid_from", "date", True), _map("valid_to", "date"),
    ),
)

_PRIVILEGED_APPROVALS = Table(
    name="privileged_approvals",
    meaning="Management's approved list of privileged access: one row per system, account and "
            "privileged entitlement approved.",
    key=("system", "account", "entitlement"),
    built_by=("privileged_access_approved", "mapped"),
    columns=(
        _col("system", "text", "The id of the system.", required=True),
        _col("account", "key", "The approved account's login, casefolded.", required=True),
        _original("account", required=True),
        _col("entitlement", "text", "The privileged entitlement approved.", required=True),
        _col("approved_by", "text", "Who approved the privileged access, as written in the "
                                    "list."),
        _col("approved_on", "date", "The day the access was approved."),
        _col("expires_on", "date", "The day the approval expires; empty when it does not."),
        _LINE,
    ),
    mappable=(
        _map("system", "system", True), _map("account", "key", True),
        _map("entitlement", "text", True), _map("approved_by", "text"),
        _map("approved_on", "date"), _map("expires_on", "date"),
    ),
)

_EVENTS = Table(
    name="events",
    meaning="The identity provider's event log (e.g. the Okta System Log): one row per event, "
            "in the order the events were published.",
    key=("uuid",),
    extra_columns=True,
    built_by=("okta_system_log", "mapped"),
    columns=(
        _col("uuid", "text", "The event's unique identifier.", required=True),
        _col("published", "timestamp", "When the event happened.", required=True),
        _col("event_type", "text", "The event type (e.g. user.lifecycle.deactivate, "
                                   "group.user_membership.add).", required=True),
        _col("actor_id", "text", "The identifier of who or what performed the action."),
        _col("actor_login", "key", "The actor's login, casefolded (the text as exported follows "
                                   "among the extra columns, in actor_login_original)."),
        _col("target_id", "text", "The identifier of the event's first target (a user, group or "
                                  "application)."),
        _col("target_login", "key", "The first target's login or name, casefolded (the text as "
                                    "exported follows in target_login_original)."),
        _col("target_type", "text", "The kind of the first target (e.g. User, UserGroup, "
                                    "AppInstance)."),
        _col("outcome_result", "text", "The event's outcome (e.g. SUCCESS, FAILURE)."),
        _col("outcome_reason", "text", "Why the event had that outcome, when the log says."),
        _col("display_message", "text", "The event's description as the identity provider "
                                        "writes it."),
        _LINE,
    ),
    mappable=(
        _map("uuid", "text", True), _map("published", "timestamp", True),
        _map("event_type", "text", True), _map("actor_id", "text"), _map("actor_login", "key"),
        _map("target_id", "text"), _map("target_login", "key"), _map("target_type", "text"),
        _map("outcome_result", "text"), _map("outcome_reason", "text"),
        _map("display_message", "text"),
    ),
)

_ROLE_PERMISSIONS = Table(
    name="role_permissions",
    meaning="What each role of a system permits (e.g. SAP AGR_1251 role authorizations): one "
            "row per role and permission, for segregation-of-duties tests at permission level.",
    key=("system", "role", "permission"),
    built_by=("mapped",),
    columns=(
        _col("system", "text", "The id of the system the role belongs to.", required=True),
        _col("role", "text", "The role's name, as grants.entitlement names it.", required=True),
        _col("permission", "text", "One permission the role gives (e.g. a transaction code, or "
                                   "an authorization object with its field and value).",
             required=True),
        _col("permission_type", "text", "The kind of permission (e.g. transaction, "
                                        "authorization_object)."),
        _col("description", "text", "What the permission allows, as the system describes it."),
        _LINE,
    ),
    mappable=(
        _map("system", "system", True), _map("role", "text", True),
        _map("permission", "text", True), _map("permission_type", "text"),
        _map("description", "text"),
    ),
)

_IDENTITY_ALIASES = Table(
    name="identity_aliases",
    meaning="The entity's alias table: which HR worker an account, user id or name belongs to, "
            "where no export says it (e.g. SAP user PRAMAN is priya.raman@...). Read by the "
            "identity-match rule 'alias'.",
    key=("system", "identifier"),
    built_by=("mapped",),
    columns=(
        _col("system", "text", "The id of the system the identifier is an account of; empty when "
                               "the identifier names the worker in every system (e.g. a name)."),
        _col("identifier", "text", "The account login, e-mail, user id or name as exports write "
                                   "it (compared ignoring case; names also ignoring accents).",
             required=True),
        _col("person", "text", "The worker it belongs to: the HR e-mail or employee number.",
             required=True),
        _col("note", "text", "Why the alias holds (e.g. the ticket or confirmation that set it)."),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("identifier", "text", True), _map("person", "text", True),
        _map("note", "text"),
    ),
)

_ACCESS_BASELINE = Table(
    name="access_baseline",
    meaning="The role baseline (RBAC): which entitlements the people of a department, job title or "
            "cost centre should hold, one row per attribute value, system and entitlement. Access "
            "held outside it is a baseline deviation of the SoD control.",
    key=("attribute", "value", "system", "entitlement"),
    built_by=("mapped",),
    columns=(
        _col("attribute", "text", "The HR attribute the row is for: department, title or "
                                  "cost_center.", required=True),
        _col("value", "text", "The attribute's value, as the HR roster writes it (compared "
                              "ignoring case).", required=True),
        _col("system", "text", "The id of the system.", required=True),
        _col("entitlement", "text", "An entitlement people with that value may hold, as the "
                                    "listings name it (compared ignoring case).", required=True),
        _LINE,
    ),
    mappable=(
        _map("attribute", "text", True), _map("value", "text", True), _map("system", "system", True),
        _map("entitlement", "text", True),
    ),
)

_REMEDIATION_LOG = Table(
    name="remediation_log",
    meaning="The remediation log of an access review (e.g. the certification tool's remediation "
            "report, or the catalog tasks that removed access): one row per access change done, "
            "with when and by whom. It proves a revoke decision executed (and when) where no "
            "later listing does.",
    # no natural key: one ticket may remove several entitlements, and an account may lose the same
    # entitlement twice in a period; each line is one change
    key=("entitlement", "action", "line"),
    built_by=("mapped",),
    columns=(
        _col("system", "text", "The id of the system the access was removed from; empty when the "
                               "log names an application that is not one of the period's systems."),
        _col("account", "text", "The account whose access was changed (login or account e-mail), "
                                "as exported; compared ignoring case."),
        _col("person", "text", "The person whose access was changed (e-mail or name), as exported; "
                               "compared ignoring case. A row needs an account or a person."),
        _col("entitlement", "text", "The entitlement removed, as the listings name it (compared "
                                    "ignoring case).", required=True),
        _col("action", "text", "What was done, lower-cased (remove, revoke, disable and delete "
                               "count as removals).", required=True),
        _col("completed_at", "timestamp", "When the change was completed in the system; empty "
                                          "while not done (such a row proves nothing)."),
        _col("ticket", "text", "The ticket, task or remediation item number."),
        _col("performed_by", "text", "Who made the change (or closed the task)."),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("account", "text"), _map("person", "text"),
        _map("entitlement", "text", True), _map("action", "text", True),
        _map("completed_at", "timestamp"), _map("ticket", "text"), _map("performed_by", "text"),
    ),
)

_CODE_CHANGES = Table(
    name="code_changes",
    meaning="Program changes merged into a repository (GitHub pull requests, GitLab merge "
            "requests): one row per change, with its author, when and by whom it was merged and "
            "the commit that reached the target branch.",
    key=("system", "change_id"),
    built_by=("github_pull_requests", "gitlab_merge_requests", "mapped"),
    columns=(
        _col("system", "text", "The id of the system the repository builds, as the period's "
                               "parameters declare it.", required=True),
        _col("repository", "text", "The repository, as the export names it (owner/name, or a "
                                   "GitLab project id)."),
        _col("change_id", "text", "The change's identifier within the system: the repository and "
                                  "the pull or merge request number (owner/name#123).",
             required=True),
        _col("title", "text", "The change's title: where teams write the change ticket it "
                              "implements."),
        _col("author", "key", "Who wrote the change (the pull request's user, the merge "
                              "request's author), casefolded.", required=True),
        _original("author", required=True),
        _col("created_at", "timestamp", "When the change was opened for review."),
        _col("merged_at", "timestamp", "When the change was merged; empty when it was closed "
                                       "without merging (not a change to the program)."),
        _col("merged_by", "key", "Who merged the change, casefolded; empty when the export does "
                                 "not say."),
        _original("merged_by"),
        _col("merge_commit", "text", "The commit the merge produced on the target branch: what a "
                                     "deployment of the change deploys."),
        _col("target_branch", "text", "The branch the change was merged into (e.g. main)."),
        _col("source_branch", "text", "The branch the change came from (often named after its "
                                      "ticket)."),
        _col("description", "text", "The change's description (the pull request body)."),
        _col("url", "text", "The change's web address: the evidence an auditor opens."),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("repository", "text"), _map("change_id", "text", True),
        _map("title", "text"), _map("author", "key", True), _map("created_at", "timestamp"),
        _map("merged_at", "timestamp"), _map("merged_by", "key"), _map("merge_commit", "text"),
        _map("target_branch", "text"), _map("source_branch", "text"),
        _map("description", "text"), _map("url", "text"),
    ),
)

_CODE_REVIEWS = Table(
    name="code_reviews",
    meaning="The reviews and approvals of program changes (GitHub pull request reviews, GitLab "
            "merge request approvals): one row per review, with who reviewed, their verdict and "
            "when.",
    key=("review_id",),
    built_by=("github_pull_reviews", "gitlab_merge_request_approvals", "mapped"),
    columns=(
        _col("review_id", "text", "The review's identifier.", required=True),
        _col("system", "text", "The id of the system the reviewed repository builds."),
        _col("change_id", "text", "The change reviewed, as code_changes.change_id gives it.",
             required=True),
        _col("reviewer", "key", "Who reviewed, casefolded: compared with the change's author to "
                                "find self-approval.", required=True),
        _original("reviewer", required=True),
        _col("state", "choice", "The reviewer's verdict.", required=True, values=REVIEW_STATES),
        _choice_original("state", required=True),
        _col("submitted_at", "timestamp", "When the review was submitted; empty when the export "
                                          "does not record it (then an approval after the merge "
                                          "cannot be seen)."),
        _col("commit", "text", "The commit the review was given on."),
        _LINE,
    ),
    mappable=(
        _map("review_id", "text", True), _map("system", "system"), _map("change_id", "text", True),
        _map("reviewer", "key", True), _map("state", "choice", True),
        _map("submitted_at", "timestamp"), _map("commit", "text"),
    ),
)

_DEPLOYMENTS = Table(
    name="deployments",
    meaning="The deployment log of a CI/CD pipeline (GitHub deployments, a pipeline's export): "
            "one row per deployment, with the environment, when, by whom, the commit deployed and "
            "the change ticket it names.",
    key=("deployment_id",),
    built_by=("github_deployments", "mapped"),
    columns=(
        _col("deployment_id", "text", "The deployment's identifier.", required=True),
        _col("system", "text", "The id of the system deployed.", required=True),
        _col("environment", "text", "The environment deployed to (e.g. production, staging)."),
        _col("deployed_at", "timestamp", "When the deployment ran.", required=True),
        _col("deployed_by", "key", "Who started the deployment, casefolded."),
        _original("deployed_by"),
        _col("status", "choice", "The deployment's outcome; empty when the log does not record "
                                 "it (read as succeeded, and the evidence says so).",
             values=DEPLOYMENT_STATUSES),
        _choice_original("status"),
        _col("commit", "text", "The commit deployed: matched to the merge commit of a change."),
        _col("ref", "text", "The branch or tag deployed."),
        _col("description", "text", "The deployment's description, where teams name the change "
                                    "ticket."),
        _col("ticket", "text", "The change ticket the deployment names, where the log has a "
                               "field for it."),
        _LINE,
    ),
    mappable=(
        _map("deployment_id", "text", True), _map("system", "system"),
        _map("environment", "text"), _map("deployed_at", "timestamp", True),
        _map("deployed_by", "key"), _map("status", "choice", allow_empty=True),
        _map("commit", "text"), _map("ref", "text"), _map("description", "text"),
        _map("ticket", "text"),
    ),
)

_CHANGE_TICKETS = Table(
    name="change_tickets",
    meaning="The change tickets of the change-management process (ServiceNow change_request, "
            "Jira change issues): one row per ticket, with its type, approval, planned window "
            "and testing evidence.",
    key=("ticket",),
    built_by=("mapped",),
    columns=(
        _col("ticket", "text", "The ticket number (e.g. CHG0030012, OPS-412).", required=True),
        _col("system", "text", "The id of the system changed; empty when the ticket's "
                               "configuration item is not one of the period's systems."),
        _col("configuration_item", "text", "The configuration item or component as the ticket "
                                           "names it."),
        _col("title", "text", "The ticket's short description."),
        _col("type", "choice", "The kind of change: standard (pre-approved), normal or "
                               "emergency (approved retrospectively).", required=True,
             values=CHANGE_TYPES),
        _choice_original("type", required=True),
        _col("state", "text", "The ticket's state as exported (e.g. Closed, Implement)."),
        _col("approval", "choice", "The ticket's approval in canonical words.",
             values=APPROVAL_STATES),
        _choice_original("approval"),
        _col("approver", "key", "Who approved the change (the CAB or change manager), "
                                "casefolded."),
        _original("approver"),
        _col("approved_at", "timestamp", "When the change was approved."),
        _col("requested_by", "key", "Who requested the change, casefolded."),
        _original("requested_by"),
        _col("opened_at", "timestamp", "When the ticket was opened."),
        _col("planned_start", "timestamp", "The start of the approved implementation window."),
        _col("planned_end", "timestamp", "The end of the approved implementation window."),
        _col("closed_at", "timestamp", "When the ticket was closed."),
        _col("test_evidence", "text", "The testing evidence the ticket carries (a test plan, "
                                      "test results, an attachment's name); empty when none is "
                                      "attached."),
        _LINE,
    ),
    mappable=(
        _map("ticket", "text", True), _map("system", "system"),
        _map("configuration_item", "text"), _map("title", "text"),
        _map("type", "choice", True), _map("state", "text"),
        _map("approval", "choice", allow_empty=True), _map("approver", "key"),
        _map("approved_at", "timestamp"), _map("requested_by", "key"),
        _map("opened_at", "timestamp"), _map("planned_start", "timestamp"),
        _map("planned_end", "timestamp"), _map("closed_at", "timestamp"),
        _map("test_evidence", "text"),
    ),
)

_JOB_RUNS = Table(
    name="job_runs",
    meaning="The runs of scheduled jobs (backup jobs: Veeam sessions, AWS Backup jobs; batch jobs of "
            "a job scheduler): one row per run, with its job, when it ran and its result.",
    key=("run_id",),
    built_by=("aws_backup_jobs", "mapped"),
    columns=(
        _col("run_id", "text", "The run's identifier (a session or job id).", required=True),
        _col("system", "text", "The id of the system the job serves (backs up, processes).",
             required=True),
        _col("job_name", "text", "The job: runs of one job are compared with its schedule.",
             required=True),
        _col("job_type", "text", "The kind of job, e.g. backup or batch."),
        _col("started_at", "timestamp", "When the run started.", required=True),
        _col("ended_at", "timestamp", "When the run ended; empty while it runs."),
        _col("result", "choice", "The run's outcome.", required=True, values=JOB_RESULTS),
        _choice_original("result", required=True),
        _col("message", "text", "The run's status message or failure reason."),
        _LINE,
    ),
    mappable=(
        _map("run_id", "text", True), _map("system", "system"), _map("job_name", "text", True),
        _map("job_type", "text"), _map("started_at", "timestamp", True),
        _map("ended_at", "timestamp"), _map("result", "choice", True), _map("message", "text"),
    ),
)

_INCIDENTS = Table(
    name="incidents",
    meaning="Incident tickets (ServiceNow incident, PagerDuty, Jira Service Management): one row per "
            "incident, with its priority, when it was opened and resolved.",
    key=("ticket",),
    built_by=("mapped",),
    columns=(
        _col("ticket", "text", "The incident number (e.g. INC0012345, PagerDuty #1234).",
             required=True),
        _col("system", "text", "The id of the system affected; empty when the incident's "
                               "service or configuration item is not one of the period's systems."),
        _col("title", "text", "The incident's short description."),
        _col("priority", "choice", "The incident's priority in canonical words (its SLA depends on "
                                   "it).", required=True, values=INCIDENT_PRIORITIES),
        _choice_original("priority", required=True),
        _col("state", "text", "The incident's state as exported (e.g. Resolved, Closed)."),
        _col("opened_at", "timestamp", "When the incident was opened.", required=True),
        _col("resolved_at", "timestamp", "When the incident was resolved; empty while open."),
        _col("closed_at", "timestamp", "When the incident was closed."),
        _col("assigned_to", "key", "Who the incident is assigned to, casefolded."),
        _original("assigned_to"),
        _col("related_job", "text", "The scheduled job a failure incident is about, where the "
                                    "ticket names it (a follow-up of a failed run)."),
        _LINE,
    ),
    mappable=(
        _map("ticket", "text", True), _map("system", "system"), _map("title", "text"),
        _map("priority", "choice", True), _map("state", "text"), _map("opened_at", "timestamp", True),
        _map("resolved_at", "timestamp"), _map("closed_at", "timestamp"), _map("assigned_to", "key"),
        _map("related_job", "text"),
    ),
)

#: Every canonical table, by name, in the order the documentation lists them.
TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in (
    _IDENTITIES, _ACCOUNTS, _GRANTS, _REVIEW_DECISIONS, _CAMPAIGNS, _REQUESTS, _SOD_RULES,
    _SOD_MITIGATIONS, _PRIVILEGED_APPROVALS, _EVENTS, _ROLE_PERMISSIONS, _IDENTITY_ALIASES,
    _ACCESS_BASELINE, _REMEDIATION_LOG, _CODE_CHANGES, _CODE_REVIEWS, _DEPLOYMENTS, _CHANGE_TICKETS,
    _JOB_RUNS, _INCIDENTS)})


# --------------------------------------------------------------------------------------------
# Look-ups
# --------------------------------------------------------------------------------------------

def table(name: str) -> Table:
    """The declared table ``name``; a KeyError says which tables exist and the closest name."""
    found = TABLES.get(name)
    if found is None:
        raise KeyError(f"unknown canonical table '{name}'.{_did_you_mean(name, TABLES)} "
                       f"Tables: {', '.join(TABLES)}.")
    return found


def columns_of(name: str) -> tuple[str, ...]:
    """The canonical columns every frame of table ``name`` starts with, in order.

    For a closed table that is every column, ``line`` last. For a table that admits extra
    columns (accounts, grants, events) ``line`` is left out: the system-specific columns follow
    these, and ``line`` comes after them, last.
    """
    spec = table(name)
    return spec.names[:-1] if spec.extra_columns else spec.names


def mappable(name: str) -> tuple[Mappable, ...]:
    """The columns a ``kind: mapped`` source may fill for table ``name`` (empty when a mapping
    cannot build the table)."""
    return table(name).mappable


def mapped_tables() -> dict[str, dict[str, tuple[str, ...]]]:
    """Tables a ``kind: mapped`` source can build: table -> {"required": ..., "optional": ...}
    columns of ``options.columns`` (the shape of ``populations.MAPPED_TABLES``)."""
    return {t.name: {"required": tuple(m.column for m in t.mappable if m.required),
                     "optional": tuple(m.column for m in t.mappable if not m.required)}
            for t in TABLES.values() if t.mappable}


