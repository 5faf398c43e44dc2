"""Human resources: the Workday "All Workers" report -> ``identities``."""

from __future__ import annotations

from ..context import ReadContext
from ..evidence import Population
from ..frames import _frame
from ..source import _Source


def read_workday_workers(ctx: ReadContext) -> Population:
    """Workday "All Workers" report -> ``identities`` (key ``employee_id``)."""
    kind = "workday_workers"
    src = _Source(kind, ctx, required=(
        "Employee ID", "Worker", "Email - Work", "Business Title", "Supervisory Organization",
        "Manager Employee ID", "Cost Center", "Hire Date", "Worker Status", "Termination Date",
        "Last Day of Work", "Primary Reason"), optional=("Eligible for Rehire",))
    frame = _frame({
        "employee_id": src.text("Employee ID"),
        "full_name": src.text("Worker"),
        "email": src.folded("Email - Work"),
        "email_original": src.text("Email - Work"),
        "department": src.text("Supervisory Organization"),
        "title": src.text("Business Title"),
        "manager_employee_id": src.text("Manager Employee ID"),
        "cost_center": src.text("Cost Center"),
        "hire_date": src.date("Hire Date"),
        "status": src.choice("Worker Status", {"Active": "active", "Terminated": "terminated"}),
        "status_original": src.text("Worker Status"),
        "termination_date": src.date("Termination Date"),
        "last_day_of_work": src.date("Last Day of Work"),
        "termination_reason": src.text("Primary Reason"),
        "eligible_for_rehire": src.boolean("Eligible for Rehire", yes_no=True, allow_empty=True),
    }, src.lines)
    return src.population("identities", frame, key=("employee_id",),
                          totals={"status": "status", "department": "department"})
