"""Access tickets: ServiceNow requested items -> ``requests``."""

from __future__ import annotations

from ..context import ReadContext
from ..evidence import Population
from ..frames import _frame
from ..source import _Source
from ..timestamps import _LOCAL_EXAMPLE

_SERVICENOW_APPROVAL = {
    "approved": "approved", "rejected": "rejected", "requested": "requested",
    "not yet requested": "not_yet_requested", "not requested": "not_requested",
    "cancelled": "cancelled", "no longer required": "not_required",
    "not required": "not_required",
}


def read_servicenow_access_requests(ctx: ReadContext) -> Population:
    """ServiceNow requested items -> ``requests`` (key ``ticket``).

    Timestamps without a zone are read in ``timezone`` (declare the instance's zone; the demo
    company exports UTC). ``Action`` -> ``grant``/``revoke``; ``Approval`` -> ``approved``/
    ``rejected``/``requested`` (other ServiceNow approval states are accepted too, snake_case).
    """
    kind = "servicenow_access_requests"
    src = _Source(kind, ctx, required=(
        "Number", "Requested for", "Opened by", "Item", "Application", "Entitlement", "Action",
        "Approval", "Approver", "Approved", "Opened", "Closed", "State"))
    frame = _frame({
        "ticket": src.text("Number"),
        "requested_for": src.folded("Requested for"),
        "requested_for_original": src.text("Requested for"),
        "opened_by": src.folded("Opened by"),
        "opened_by_original": src.text("Opened by"),
        "item": src.text("Item"),
        "system": src.systems("Application", ctx.display_names),
        "application": src.text("Application"),
        "entitlement": src.text("Entitlement"),
        "action": src.choice("Action", {"Grant": "grant", "Revoke": "revoke"}),
        "action_original": src.text("Action"),
        "approval": src.choice("Approval", _SERVICENOW_APPROVAL),
        "approval_original": src.text("Approval"),
        "approver": src.folded("Approver"),
        "approver_original": src.text("Approver"),
        "approved_at": src.timestamp("Approved", example=_LOCAL_EXAMPLE),
        "opened_at": src.timestamp("Opened", example=_LOCAL_EXAMPLE),
        "closed_at": src.timestamp("Closed", example=_LOCAL_EXAMPLE),
        "state": src.text("State"),
    }, src.lines)
    return src.population("requests", frame, key=("ticket",),
                          totals={"action": "action", "approval": "approval", "state": "state"})
