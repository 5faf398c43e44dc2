"""Access reviews: certification campaign decisions -> ``review_decisions`` and the campaign
status report -> ``campaigns``."""

from __future__ import annotations

from ..context import ReadContext
from ..evidence import Population
from ..frames import _frame
from ..source import _Source
from ..timestamps import _OKTA_EXAMPLE


def read_campaign_decisions(ctx: ReadContext) -> Population:
    """Certification campaign decisions -> ``review_decisions``.

    Key ``campaign_id`` + ``subject_email`` + ``system`` + ``entitlement`` (one line per
    identity x access item). ``Decision`` ``APPROVE``/``REVOKE``/empty -> ``approve``/``revoke``/
    ``undecided``; ``privileged`` is the campaign's own flag as exported; ``system`` is the id of
    the ``Source`` display name (NA and counted in the evidence when unmapped).
    """
    kind = "campaign_decisions"
    src = _Source(kind, ctx, required=(
        "Campaign ID", "Campaign Name", "Certification ID", "Reviewer Name", "Reviewer Email",
        "Identity Name", "Identity Email", "Source", "Access Type", "Access Name", "Privileged",
        "Decision", "Decision Date", "Comments"))
    frame = _frame({
        "campaign_id": src.text("Campaign ID"),
        "campaign_name": src.text("Campaign Name"),
        "certification_id": src.text("Certification ID"),
        "reviewer_name": src.text("Reviewer Name"),
        "reviewer_email": src.folded("Reviewer Email"),
        "reviewer_email_original": src.text("Reviewer Email"),
        "subject_name": src.text("Identity Name"),
        "subject_email": src.folded("Identity Email"),
        "subject_email_original": src.text("Identity Email"),
        "system": src.systems("Source", ctx.display_names),
        "application": src.text("Source"),
        "access_type": src.text("Access Type"),
        "entitlement": src.text("Access Name"),
        "privileged": src.boolean("Privileged").astype(bool),
        "decision": src.choice("Decision", {"APPROVE": "approve", "REVOKE": "revoke"},
                               empty="undecided"),
        "decision_original": src.text("Decision"),
        "decided_at": src.timestamp("Decision Date", example=_OKTA_EXAMPLE),
        "comments": src.text("Comments"),
    }, src.lines)
    return src.population("review_decisions", frame,
                          key=("campaign_id", "subject_email", "system", "entitlement"),
                          totals={"decision": "decision", "source": "application"},
                          duplicates="drop")


def read_campaign_status(ctx: ReadContext) -> Population:
    """Campaign Status Report -> ``campaigns`` (key ``campaign_id``); status lower-cased."""
    kind = "campaign_status"
    src = _Source(kind, ctx, required=(
        "Campaign ID", "Campaign Name", "Type", "Date of Creation", "Date of Activation",
        "Deadline", "Status", "Completed Date", "Total Items", "Decisions Made", "Signed Off By",
        "Signed Off Date"))
    status = src.text("Status")
    frame = _frame({
        "campaign_id": src.text("Campaign ID"),
        "campaign_name": src.text("Campaign Name"),
        "type": src.text("Type"),
        "created_at": src.timestamp("Date of Creation", example=_OKTA_EXAMPLE),
        "activated_at": src.timestamp("Date of Activation", example=_OKTA_EXAMPLE),
        "deadline": src.timestamp("Deadline", example=_OKTA_EXAMPLE),
        "status": status.str.lower(),
        "status_original": status,
        "completed_at": src.timestamp("Completed Date", example=_OKTA_EXAMPLE),
        "total_items": src.integer("Total Items"),
        "decisions_made": src.integer("Decisions Made"),
        "signed_off_by": src.text("Signed Off By"),
        "signed_off_at": src.timestamp("Signed Off Date", example=_OKTA_EXAMPLE),
    }, src.lines)
    return src.population("campaigns", frame, key=("campaign_id",),
                          totals={"status": "status"})
