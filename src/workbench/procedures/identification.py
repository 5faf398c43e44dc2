"""Who is who in a control: accounts and named people tied to HR workers by the declared rules.

A mixin of ``ControlTest``. It builds the control's directory of people once (``identity``), ties
each grant and account to a worker by its system's rules (``systems[].identity_match``), and
rewrites the people named on review lines, tickets and registers (subject, reviewer, requester,
approver) to the worker's HR e-mail where a rule of ``people_match`` recognises them, keeping the
value as exported in its ``*_original`` column and the rule in ``<column>_match_rule``. Every
procedure then compares people by one key, and the workpaper shows how each was matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from workbench import identity, workpapers
from workbench.analytics import correlate_grants, idp_accounts


@dataclass(frozen=True)
class PersonColumn:
    """A column of a canonical table that names a person, and how to read it."""

    column: str
    name_column: str | None = None   # the name shown beside it, read by the display-name rule
    in_system: bool = False          # an account holder of the row's system: its rules first


#: The columns that name people, by canonical table.
PEOPLE_COLUMNS: dict[str, tuple[PersonColumn, ...]] = {
    "review_decisions": (PersonColumn("subject_email", "subject_name", in_system=True),
                         PersonColumn("reviewer_email", "reviewer_name")),
    "requests": (PersonColumn("requested_for", in_system=True), PersonColumn("opened_by"), PersonColumn("approver")),
    "privileged_approvals": (PersonColumn("approved_by"),),
    "sod_mitigations": (PersonColumn("approved_by"),),
    "code_changes": (PersonColumn("author", in_system=True), PersonColumn("merged_by", in_system=True)),
    "code_reviews": (PersonColumn("reviewer", in_system=True),),
    "deployments": (PersonColumn("deployed_by", in_system=True),),
    "change_tickets": (PersonColumn("requested_by"), PersonColumn("approver")),
    "incidents": (PersonColumn("assigned_to"),),
}


class IdentificationMixin:
    """Identity resolution for a control test (see the module docstring)."""

    # --- the directory --------------------------------------------------------------------------
    @cached_property
    def identity(self) -> identity.Directory:
        """The control's people: HR, and where the control gives them the IdP users, the IdP's
        application assignments and the entity's alias table."""
        def optional(role: str) -> pd.DataFrame | None:
            spec = self.SOURCE_ROLES.get(role)
            if spec is None or not (spec.required or self.given(role)):
                return None    # a role the procedure does not read, or an optional one not given
            return self.load_for(role, self.source_ids(role)[0]).frame
        return identity.build_directory(self.frame("hr"), optional("idp_users"), optional("idp_assignments"),
                                        optional("identity_aliases"))

    @property
    def identity_orders(self) -> dict[str, list[str]]:
        """System id -> its identity-match rules, as the period file declares them."""
        return {s.id: list(s.identity_match) for s in self.params.systems}

    # --- accounts and grants --------------------------------------------------------------------
    def correlate(self, grants: pd.DataFrame) -> pd.DataFrame:
        """Each grant or account with its worker: ``person_email`` (the HR e-mail), ``match_rule``,
        ``match_candidates`` (ambiguous rows), ``correlated`` and ``service_account``."""
        frame = correlate_grants(grants, None, service_accounts=self.service_accounts, directory=self.identity,
                                 orders=self.identity_orders)
        # a listing without the flag (NA once listings are concatenated) has no root account: kept
        root = frame["is_root"].astype("boolean").fillna(False).astype(bool) if "is_root" in frame else None
        self._record_accounts(frame if root is None else frame[~root.to_numpy()])
        return frame

    def idp_accounts(self, users: pd.DataFrame, label: str) -> pd.DataFrame:
        """The identity provider's accounts (``analytics.idp_accounts``), each tied to its worker by
        the IdP system's rules and recorded for the evidence."""
        inventory = idp_accounts(users, None, label, directory=self.identity, orders=self.identity_orders)
        self._record_accounts(inventory)
        return inventory

    def _record_accounts(self, frame: pd.DataFrame) -> None:
        """Keep how each account was matched, for :meth:`identity_evidence`."""
        self._matched_accounts.append(frame[["system", "login", "match_rule", "match_candidates", "service_account",
                                             *(["listing"] if "listing" in frame else [])]])

    @cached_property
    def _matched_accounts(self) -> list[pd.DataFrame]:
        return []

    # --- people named on lines, tickets and registers -------------------------------------------
    def resolve_people(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (a table of :data:`PEOPLE_COLUMNS`) with each person column rewritten to the
        worker's HR e-mail where a rule recognises the person; unrecognised values stay as exported.

        An account holder named on a line (the reviewed person, the person a request is for) is
        tried by the rules of the line's system, then by ``people_match``; reviewers, requesters and
        approvers by ``people_match``.
        """
        columns = [c for c in PEOPLE_COLUMNS.get(table, ()) if c.column in frame]
        if not columns or frame.empty:
            return frame
        frame = frame.copy()
        people = list(self.params.people_match)
        for spec in columns:
            names = tuple(c for c in (spec.name_column, spec.column) if c and c in frame)
            keys = {"emails": (spec.column,), "logins": (spec.column,), "employee_ids": (spec.column,), "names": names}
            if spec.in_system and "system" in frame:
                orders = {s: list(dict.fromkeys([*rules, *people])) for s, rules in self.identity_orders.items()}
                resolved = identity.resolve_by_system(self.identity, frame, orders, people, system="system", **keys)
            else:
                resolved = identity.resolve_keys(self.identity, frame, people, **keys)
            frame[spec.column] = resolved["person"].fillna(frame[spec.column].astype("string"))
            frame[f"{spec.column}_match_rule"] = resolved["match_rule"].where(frame[spec.column].notna())
            self._matched_people.append(pd.DataFrame({
                "table": table, "column": spec.column, "value": frame[spec.column].astype("string"),
                "match_rule": frame[f"{spec.column}_match_rule"], "candidates": resolved["candidates"]}))
        return frame

    @cached_property
    def _matched_people(self) -> list[pd.DataFrame]:
        return []

    # --- evidence -------------------------------------------------------------------------------
    def identity_evidence(self) -> list[workpapers.HtmlBlock]:
        """How accounts and named people were tied to HR workers: rows per system (or column) and
        rule, the rules declared, and every ambiguous row with its candidates."""
        blocks: list[workpapers.HtmlBlock] = []
        accounts = pd.concat(self._matched_accounts, ignore_index=True) if self._matched_accounts else None
        if accounts is not None and len(accounts):
            accounts = accounts.drop_duplicates(["system", "login"])
            rules = accounts["match_rule"].where(~accounts["service_account"].astype(bool)
                                                 | (accounts["match_rule"] != identity.UNMATCHED), "service account")
            system = accounts["system"].astype("string").fillna("(an application not among the period's systems)")
            table = (pd.DataFrame({"system": system, "matched by": rules})
                     .groupby(["system", "matched by"], sort=True).size().rename("accounts").reset_index())
            blocks.append(workpapers.table(table, "Accounts tied to HR workers, by system and rule"))
        if self._matched_people:
            people = pd.concat(self._matched_people, ignore_index=True).dropna(subset=["value"])
            table = (people.groupby(["table", "column", "match_rule"], sort=True).size().rename("rows").reset_index()
                     .rename(columns={"match_rule": "matched by"}))
            blocks.append(workpapers.table(table, "People named on review lines, tickets and registers, by rule"))
        declared = [(s.id, ", ".join(s.identity_match)) for s in self.params.systems
                    if s.id in self.control.systems or not self.control.systems]
        declared.append(("people named on lines", ", ".join(self.params.people_match)))
        blocks.append(workpapers.key_values(declared, "Identity-match rules, tried in this order"))
        ambiguous = self.ambiguous_matches()
        if len(ambiguous):
            blocks.append(workpapers.table(ambiguous, "Ambiguous: a rule named several workers, so none was taken"))
        if accounts is not None:
            unmatched = accounts[(accounts["match_rule"] == identity.UNMATCHED)
                                 & ~accounts["service_account"].astype(bool)]
            if len(unmatched):
                shown = unmatched[["system", "login", *(["listing"] if "listing" in unmatched else [])]]
                blocks.append(workpapers.table(shown.sort_values(["system", "login"]).reset_index(drop=True),
                                               f"Accounts no rule tied to a worker ({len(shown)}; service accounts "
                                               "excluded)"))
        return blocks

    def ambiguous_matches(self) -> pd.DataFrame:
        """Every account or named person a rule tied to several workers (never guessed)."""
        rows = []
        for frame in self._matched_accounts:
            mine = frame[frame["match_rule"] == identity.AMBIGUOUS]
            rows += [{"where": f"{r.system} account", "value": r.login, "candidates": r.match_candidates}
                     for r in mine.itertuples()]
        for frame in self._matched_people:
            mine = frame[frame["match_rule"] == identity.AMBIGUOUS]
            rows += [{"where": f"{r.table}.{r.column}", "value": r.value, "candidates": r.candidates}
                     for r in mine.itertuples()]
        return pd.DataFrame(rows, columns=["where", "value", "candidates"]).drop_duplicates().reset_index(drop=True)
