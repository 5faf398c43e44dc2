"""The demo's two periods end to end: Q2 run, the auditors' follow-up, roll-forward, Q3 run with retests.

What ``workbench demo`` does after generating the exports of both quarters:

1. run the prior period (2026-Q2) from ``parameters/demo-2026-Q2.yaml``;
2. record the auditors' follow-up of its exceptions in ``parameters/demo-2026-Q2.remediation.yaml``:
   what management said and did, as an auditor would record it between periods (see
   :func:`prior_period_follow_up`; the statuses depend only on the rule, so the story is the same
   at every company size);
3. roll the open exceptions forward into ``parameters/demo-2026-Q3.remediation.yaml``
   (``workbench rollforward --records-only``: the Q3 parameter file is already in the checkout, or
   copied from the package by :func:`provide_demo_parameters`, and
   is exactly what a full roll-forward of the Q2 file writes), retests scheduled for the remediated;
4. run the demo period (2026-Q3), which retests every carried exception against its full population.

The two record files are the demo's own: they carry :data:`DEMO_MARKER` and are replaced on the next
``workbench demo``; a record file without the marker is an auditor's and is never touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.exceptions import HistoryEntry, RemediationRecord, read_register, write_remediation
from workbench.rollforward import Rollforward, remediation_file_for, rollforward

__all__ = ["DEMO_MARKER", "FollowUp", "FOLLOW_UP", "DemoRecordsError", "prior_period_follow_up",
           "remove_demo_records", "record_prior_follow_up", "carry_into_demo_period", "run_demo_periods",
           "provide_demo_parameters"]

DEMO_MARKER = "Demo records written by `workbench demo`: replaced on every demo run."
PREPARER = "Avery Quinn, Senior IT Auditor"


class DemoRecordsError(ValueError):
    """A record file the demo would replace belongs to an auditor (it lacks the demo marker)."""


@dataclass(frozen=True)
class FollowUp:
    """What management said and did about one kind of exception, as the auditor recorded it."""

    status: str
    owner: str
    root_cause: str
    remediation_action: str
    management_response: str
    due_in_days: int = 45
    accepted_risk_approver: str | None = None
    accepted_risk_expiry: dt.date | None = None


#: Rule (or rule|subject for one account) -> the follow-up recorded after the Q2 fieldwork.
#: Remediated ones are retested in Q3; open and accepted ones are carried as they are.
FOLLOW_UP: dict[str, FollowUp] = {
    "terminated_with_active_access": FollowUp(
        "remediated", "Head of IT", "HR did not send the termination to IT; no reconciliation of HR to Okta.",
        "Accounts disabled; weekly HR-to-Okta leaver reconciliation introduced.",
        "We agree. The accounts were disabled on notification and a weekly reconciliation now catches missed leavers."),
    "access_after_termination": FollowUp(
        "remediated", "Head of IT", "Same cause as the active access of the leaver.",
        "Sessions revoked; sign-in activity of the leaver reviewed: no financial transactions found.",
        "We agree. Activity after the termination date was reviewed and no transactions were posted."),
    "late_deprovisioning": FollowUp(
        "remediated", "Head of IT", "Termination tickets queued behind other IT requests.",
        "Leaver tickets now have their own priority queue with a next-business-day target.",
        "We agree; the queue change took effect in June."),
    "access_without_approval": FollowUp(
        "remediated", "Head of IT", "An administrator assigned roles from an e-mail request.",
        "Roles confirmed with the managers after the fact; ERP role assignment now requires a ticket number.",
        "We agree. Both roles were confirmed as needed; the ERP now refuses an assignment without a ticket."),
    "privileged_drift": FollowUp(
        "remediated", "Chief Information Security Officer", "Temporary elevation for an incident was not removed.",
        "Removed from the group; elevation now goes through time-bound access.",
        "We agree. The membership was removed and temporary elevation now expires on its own."),
    "dormant_account": FollowUp(
        "remediated", "Chief Information Security Officer", "The dormancy job excluded accounts created by hand.",
        "Accounts confirmed in use or disabled; the dormancy job now covers every account.",
        "We agree; the job was fixed in July."),
    "mfa_not_enabled": FollowUp(
        "remediated", "Chief Information Security Officer", "MFA was not enforced for IAM users with console access.",
        "The user was asked to enrol an MFA device.",
        "We agree. The user has been told to enrol; an SCP enforcing MFA is planned."),
    "sod_conflict": FollowUp(
        "remediated", "Chief Financial Officer", "Role design let one person keep vendor maintenance and payment approval.",
        "Payment approval to be removed from the clerk; a preventive SoD check in the ERP is being designed.",
        "We agree. Management has asked IT to remove the conflicting role."),
    "sod_attribute_conflict": FollowUp(
        "open", "Chief Financial Officer", "Payment approval given to a People team member covering a vacancy.",
        "Remove payment approval when the AP vacancy is filled.",
        "We agree. The role stays until the AP vacancy is filled; payments are reviewed by the Controller meanwhile.",
        due_in_days=120),
    "revocation_not_executed": FollowUp(
        "remediated", "Chief Information Security Officer", "Revocation tickets were not assigned to an administrator.",
        "Roles removed; revocation tickets from the campaign are now assigned automatically.",
        "We agree; both roles were removed in July."),
    "undecided_review_line": FollowUp(
        "remediated", "Chief Information Security Officer", "The campaign was closed with lines still open.",
        "Lines decided after the campaign; the campaign can no longer be closed with open lines.",
        "We agree; the campaign configuration was changed."),
    "approved_terminated_user": FollowUp(
        "remediated", "Chief Information Security Officer", "The reviewer approved the lines of a leaver.",
        "Leavers are removed from the campaign before it starts.",
        "We agree; the campaign now excludes terminated identities."),
    "rubber_stamping": FollowUp(
        "open", "Chief Information Security Officer", "The reviewer approved a large team's lines in bulk.",
        "Reviewer training; the campaign tool will require a comment for bulk approvals.",
        "We agree. Training is scheduled; the tool change is planned for the Q4 campaign.", due_in_days=150),
    "self_review": FollowUp(
        "open", "Chief Information Security Officer", "Reviewer assignment by manager does not exclude the reviewer's own lines.",
        "Route a reviewer's own lines to their manager.",
        "We agree. The routing rule will change for the Q4 campaign.", due_in_days=150),
    "orphan_account|tempfin01": FollowUp(
        "accepted", "Chief Financial Officer", "A temporary account was created for the quarter-close payment runs.",
        "Kept until the ERP service account project delivers; the Controller reviews its payment runs monthly.",
        "Management accepts the risk until the end of 2026: the account runs the quarter-close payments.",
        accepted_risk_approver="Chief Financial Officer", accepted_risk_expiry=dt.date(2026, 12, 31)),
    "review_population_gap|tempfin01": FollowUp(
        "accepted", "Chief Financial Officer", "The temporary account has no owner in HR, so no reviewer.",
        "Covered by the accepted risk of the account itself.",
        "Management accepts the risk with that of the account.",
        accepted_risk_approver="Chief Financial Officer", accepted_risk_expiry=dt.date(2026, 12, 31)),
    "orphan_account": FollowUp(
        "open", "Head of IT", "A contractor's GitHub account was never linked to a person.",
        "Identify the owner or remove the member.", "We agree; IT is identifying the owner.", due_in_days=31),
    "review_population_gap": FollowUp(
        "open", "Head of IT", "Accounts without an HR owner are left out of the campaign.",
        "Add ownerless accounts to the campaign under the system owner.",
        "We agree; the next campaign will include them.", due_in_days=60),
}


def prior_period_follow_up(register: pd.DataFrame, period_end: dt.date,
                           recorded_on: dt.date) -> dict[str, RemediationRecord]:
    """The auditors' records of a period's exceptions: what management said and did, by rule.

    A rule with no follow-up of its own stays open with no response recorded (as it would in
    practice), so a new kind of exception is never given a story it does not have.
    """
    records = {}
    for row in register.to_dict("records"):
        follow = FOLLOW_UP.get(f"{row['rule']}|{row['subject']}") or FOLLOW_UP.get(row["rule"])
        if follow is None:
            records[row["exception_id"]] = RemediationRecord(first_seen=period_end)
            continue
        records[row["exception_id"]] = RemediationRecord(
            status=follow.status, owner=follow.owner, root_cause=follow.root_cause,
            remediation_action=follow.remediation_action, management_response=follow.management_response,
            due_date=period_end + dt.timedelta(days=follow.due_in_days),
            accepted_risk_approver=follow.accepted_risk_approver, accepted_risk_expiry=follow.accepted_risk_expiry,
            first_seen=period_end,
            history=[HistoryEntry(date=recorded_on, by=PREPARER,
                                  note=f"management response obtained; status {follow.status}")])
    return records


def _is_demo_file(path: Path) -> bool:
    return DEMO_MARKER in path.read_text(encoding="utf-8")


def remove_demo_records(parameter_file: Path) -> None:
    """Remove the demo's own record file of a period, refusing to touch an auditor's."""
    records = remediation_file_for(parameter_file)
    if not records.exists():
        return
    if not _is_demo_file(records):
        raise DemoRecordsError(
            f"{records} was not written by `workbench demo` (it lacks the demo marker); the demo will not "
            "replace an auditor's records. Move it elsewhere and run the demo again.")
    records.unlink()


def record_prior_follow_up(parameter_file: Path, run_dir: Path, period_end: dt.date) -> Path:
    """Write the demo auditors' follow-up of a run's exceptions beside the period's parameter file."""
    register = read_register(run_dir / "exceptions.csv")
    if "in_current_run" in register:
        register = register[register["in_current_run"] != "no"]
    recorded_on = period_end + dt.timedelta(days=1)
    records = prior_period_follow_up(register, period_end, recorded_on)
    return write_remediation(records, remediation_file_for(parameter_file),
                             header=f"# Auditors' follow-up of the {run_dir.parent.name} exceptions "
                                    f"(run {run_dir.name}).\n# {DEMO_MARKER}")


def carry_into_demo_period(prior_parameters: Path, to_period: str, outputs: Path, today: dt.date) -> Rollforward:
    """Carry the prior period's open exceptions into the demo period's (existing) parameter file."""
    return rollforward(prior_parameters, to_period, outputs=outputs, today=today, records_only=True,
                       note=DEMO_MARKER)


def provide_demo_parameters(parameters_dir: Path) -> list[Path]:
    """Copy the demo's parameter files shipped in the package into ``parameters_dir`` where missing.

    Outside a checkout (an installed wheel) the project folder has no ``parameters/`` of its own; the
    demo writes the shipped files there so the run, the roll-forward and a later ``workbench run
    parameters/demo-2026-Q3.yaml`` read them as a checkout's. A file already there is the project's
    and is used as it is (in a checkout: the committed one). Returns the files written.
    """
    from workbench import runner

    written = []
    for name in (runner.PRIOR_DEMO_PARAMETER_FILE, runner.DEMO_PARAMETER_FILE):
        target = Path(parameters_dir) / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(runner.shipped_demo_parameters(name).read_bytes())
            written.append(target)
    return written


def run_demo_periods(parameters_dir: Path, outputs: Path, run: Callable[..., int],
                     say: Callable[[str], None] = print) -> int:
    """Run the prior period, record its follow-up, roll forward, and run the demo period.

    ``run`` runs one parameter file and returns its exit code (the CLI prints progress and the
    summary table); the first non-zero code stops the sequence and is returned. The demo period is
    run with the prior period's run as its second argument (``--prior-run``), so its workpapers show
    the changes since Q2.
    """
    from workbench import demo, runner

    prior_file = Path(parameters_dir) / runner.PRIOR_DEMO_PARAMETER_FILE
    demo_file = Path(parameters_dir) / runner.DEMO_PARAMETER_FILE
    for parameter_file in (prior_file, demo_file):
        remove_demo_records(parameter_file)

    say(f"\n== Prior period {demo.PRIOR_PERIOD}: the quarter tested before the demo period ==")
    if (code := run(prior_file)) != 0:
        return code
    prior_run = runner.latest_run(Path(outputs) / demo.PRIOR_PERIOD)
    records = record_prior_follow_up(prior_file, prior_run, demo.QUARTERS[demo.PRIOR_PERIOD].end)
    say(f"\nAuditors' follow-up of the {demo.PRIOR_PERIOD} exceptions (management responses, remediation, "
        f"accepted risks) recorded in {records}")
    carried = carry_into_demo_period(prior_file, demo.DEMO_PERIOD, outputs, today=demo.QUARTERS[demo.DEMO_PERIOD].start)
    say(f"Rolled forward: {carried.carried} exception(s) still open at the end of {demo.PRIOR_PERIOD} carried into "
        f"{carried.remediation_file} ({carried.retests} retest(s) scheduled for the remediated ones).")

    say(f"\n== Demo period {demo.DEMO_PERIOD}: controls tested, carried exceptions retested ==")
    return run(demo_file, prior_run)
