"""Segregation of duties: CC6.3 and SOX access to programs and data.

Every account holding access at the period end in the control's systems is an item. Two kinds of
rule apply: the entity's rule set (``policy/sod_rules.csv``: pairs of incompatible functions,
each a list of entitlements) and attribute-based rules declared in the control's settings (an
entitlement only people with certain HR attribute values may hold, e.g. payment approval only in
Accounts Payable and Finance). A rule-set conflict is accepted only when the mitigation register
holds a mitigation for that rule and user that is valid at the period end (valid_from <= period
end <= valid_to); an expired mitigation does not mitigate.

A mover who kept the access of the previous job is an SoD exception too (access accumulated
across jobs is how incompatible duties build up): HR rosters carry no job history, so the rule
runs only when the control names an earlier roster (``sources: hr_prior``); see
``analytics.mover_retained_access``.

Rules may also name permissions (``level: permission``, expanded through ``sources:
role_permissions``) or pair two systems (``system_b``, joined on the person); a role whose own
permissions conflict is a role-design conflict; with ``sources: access_baseline`` access outside the
role baseline is a deviation. See ``workbench.sod``.

Full-population analytics first (every account against every rule); then a stratified sample of
accounts with attributes S1–S3.

A large population (``ControlTest.listing_relation`` gives the listings as a DuckDB relation over
their Parquet copies) runs the entitlement rules, the attribute rules, the sampling frame of accounts
and the control totals through ``workbench.large_analytics``: only the grants of entitlements a rule
names (directly or, for permission-level rules, through a role) come back to pandas; the role
baseline reads back only the grants outside it and the movers' rule only the movers' old grants and
enough grants of their new peers to count them. No step reads the held grants whole (``held``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench import analytics, large_analytics, sod, workpapers
from workbench.freshness import Claim
from workbench.populations import staged
from workbench.procedures.base import (
    ACCESS_LISTINGS,
    HR,
    HR_PRIOR,
    IDENTITY_ALIASES,
    IDP_CORRELATION,
    SOD_MITIGATIONS,
    SOD_RULES,
    ControlTest,
    SourceRole,
)

# Read only when the rule set names permissions (level: permission): without it a permission is
# held only by an entitlement of that name, and no role-design conflict can be seen.
ROLE_PERMISSIONS = SourceRole("what each role permits (e.g. SAP AGR_1251): the rule set's permissions are held "
                              "through any role that grants them", ("role_permissions",), required=False)
# The role baseline (RBAC): without it no baseline deviation is tested (it is a rule of its own, not a
# limitation of the SoD rule set).
ACCESS_BASELINE = SourceRole("the role baseline: which entitlements each department, job title or cost centre "
                             "should hold; access held outside it is a baseline deviation", ("access_baseline",),
                             required=False)


class AttributeRuleSettings(BaseModel):
    """One attribute-based SoD rule of the control's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rule_id: str
    description: str
    systems: list[str] = Field(min_length=1)
    entitlements: list[str] = Field(min_length=1)
    attribute: Literal["department", "title", "cost_center"] = "department"
    allowed: list[str] = Field(min_length=1)
    risk_level: str = "High"

    def rule(self) -> analytics.AttributeRule:
        return analytics.AttributeRule(self.rule_id, self.description, tuple(self.systems), tuple(self.entitlements),
                                       self.attribute, tuple(self.allowed), self.risk_level)


class Settings(BaseModel):
    """The ``settings:`` block of a segregation-of-duties control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    attribute_rules: list[AttributeRuleSettings] = Field(default_factory=list)
    # Movers (only with an earlier HR roster under sources: hr_prior): access of the previous job is
    # an entitlement granted before that roster (or on an unknown date) that fewer than
    # mover_min_peers other people of the mover's current department (or cost centre) hold,
    # reported once the period end is more than mover_grace_days after that roster.
    mover_grace_days: int = Field(30, ge=0)
    mover_peer_attribute: Literal["department", "cost_center"] = "department"
    mover_min_peers: int = Field(1, ge=1)


ATTRIBUTES = {
    "S1_no_rule_conflict": "S1 No conflict under the SoD rule set, unless a mitigation valid at the period end covers it",
    "S2_attribute_rules_met": "S2 The holder's HR attributes allow every entitlement an attribute-based rule restricts",
    "S3_mitigation_valid": "S3 Every mitigation relied on is valid at the period end and approved by someone else",
}


@dataclass
class SegregationOfDutiesTest(ControlTest):
    """Accounts at period end against the SoD rule set, the attribute rules and the mitigation register."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "idp_assignments": IDP_CORRELATION,
        "access_listings": ACCESS_LISTINGS,
        "sod_rules": SOD_RULES,
        "sod_mitigations": SOD_MITIGATIONS,
        "hr_prior": HR_PRIOR,
        "role_permissions": ROLE_PERMISSIONS,
        "access_baseline": ACCESS_BASELINE,
    }
    ATTRIBUTES = ATTRIBUTES
    ITEM_NOUN = "accounts"
    SAMPLE_COLUMNS = ["subject", "system", "account", "department", "entitlements"]
    FRESHNESS_CLAIMS = (
        Claim("access_listings", "period_end", "the period end", "access held at the period end against the rules "
                                                                 "(S1–S3)"),
    )
    # A hit names the account's rule (system|login|rule) while an item is the account: match on the holder.
    HIT_MATCH = ("subject", "system")

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        rules = self.frame("sod_rules")
        rows = [
            ("Objective", "No one holds incompatible duties (the SoD rule set and the attribute-based rules), unless an "
                          "approved mitigation valid at the period end covers the conflict."),
            ("Procedure", "Take every account's access from the period-end listings; evaluate every account against every "
                          "rule (full population); honour only mitigations valid at the period end; select a sample of "
                          "accounts stratified by framework scope and test S1–S3; evaluate and conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(s).name for s in self.control.systems)),
            ("Rule set", f"{len(rules)} rule(s): {', '.join(rules['rule_id'])}"),
            ("Attribute-based rules", "; ".join(f"{r.rule_id}: {', '.join(r.entitlements)} only for {r.attribute} in "
                                               f"{', '.join(r.allowed)}" for r in self.settings.attribute_rules) or "none"),
            ("Mitigation valid", f"valid_from on or before and valid_to on or after the period end {self.params.period.end}"),
            ("Movers", self.mover_text()),
        ]
        return workpapers.key_values(rows)

    def mover_text(self) -> str:
        """How the workpaper states the mover rule (or why it did not run)."""
        s = self.settings
        if "hr_prior" not in self.control.sources:
            return ("not tested: no earlier HR roster under sources: hr_prior, so a change of department or cost centre "
                    "cannot be seen")
        peer = "department" if s.mover_peer_attribute == "department" else "cost centre"
        return (f"people whose department or cost centre changed between the HR roster of "
                f"{self.extracted_at('hr_prior'):%Y-%m-%d} and the current one and who, more than {s.mover_grace_days} days "
                f"after the earlier roster, still hold an entitlement granted before it (or on an unknown date) that "
                f"fewer than {s.mover_min_peers} other people of their new {peer} hold")

    # --- 2. population --------------------------------------------------------------------------
    @property
    def identities(self) -> pd.DataFrame:
        return self.frame("hr")

    @cached_property
    def held(self) -> pd.DataFrame:
        """Access held at the period end in the control's systems, correlated to HR. For a large
        population (kept in DuckDB, ``large_held``) no step of the control reads it whole; asked for (e.g. in
        an exploring notebook), it is fetched unless above the staged read-back limit."""
        if (listing := self.large_held) is not None:
            staged.check_read_back("the held grants of the period-end listings", listing.count(self.held_sql))
            return listing.fetch(self.held_sql).reset_index(drop=True)
        grants = self.correlate(self.frames("access_listings"))
        held = grants[analytics.held_at_extraction(grants) & grants["system"].isin(self.control.systems)]
        return held.reset_index(drop=True)

    @cached_property
    def large_held(self) -> large_analytics.CorrelatedListing | None:
        """The period-end listings correlated to HR, kept in DuckDB when the population is large
        (``listing_relation``); None when they are held in memory (then ``held`` serves)."""
        relation = self.listing_relation("access_listings")
        if relation is None:
            return None
        labels = [self.label(s) for s in self.source_ids("access_listings")]
        return large_analytics.correlated_listing(self.sql, relation, labels, self.correlate)

    @cached_property
    def held_for_extended_rules(self) -> pd.DataFrame:
        """The held grants the permission-level and cross-system rules read: all of ``held``, or for a large
        population only those giving a name such a rule names (directly or through a role)."""
        if self.large_held is None:
            return self.held
        rules = self.frame("sod_rules")
        return large_analytics.held_for_extended_rules(self.large_held, self.held_sql, rules[sod.is_extended(rules)],
                                                       self.role_permissions, self.held_catalogue)

    @cached_property
    def held_catalogue(self) -> pd.DataFrame:
        """For a large population: the distinct (system, entitlement) held with their grants, from one scan
        (``large_analytics.held_catalogue``) shared by the rules, the accuracy check and the control totals."""
        return large_analytics.held_catalogue(self.large_held, self.held_sql)

    @property
    def held_sql(self) -> str:
        """SQL condition of a held grant (``held``) over ``large_held``."""
        return large_analytics.sod_held(self.large_held, self.control.systems)

    def held_of_logins(self, logins: set[str]) -> pd.DataFrame:
        """The held grants of the accounts with these logins (any system), in the listing's order."""
        if (listing := self.large_held) is None:
            return self.held[self.held["login"].isin(logins)]
        return large_analytics.held_of_logins(listing, self.held_sql, logins)

    def attribute_conflicts(self, held: pd.DataFrame | None = None) -> pd.DataFrame:
        """The attribute-based rules over ``held`` (default: every grant held; in DuckDB when large)."""
        rules = [r.rule() for r in self.settings.attribute_rules]
        if held is None and (listing := self.large_held) is not None:
            return large_analytics.sod_attribute_conflicts(listing, self.held_sql, self.identities, rules,
                                                           self.listing_label, self.held_catalogue)
        return analytics.sod_attribute_conflicts(self.held if held is None else held, self.identities, rules,
                                                 self.listing_label)

    @property
    def listing_label(self) -> str:
        return "listing"

    @property
    def mitigations(self) -> pd.DataFrame | None:
        return self.frame("sod_mitigations") if "sod_mitigations" in self.control.sources else None

    @property
    def mitigation_label(self) -> str:
        return self.label(self.source_ids("sod_mitigations")[0]) if "sod_mitigations" in self.control.sources else ""

    @property
    def role_permissions(self) -> pd.DataFrame | None:
        return self.frame("role_permissions") if "role_permissions" in self.control.sources else None

    @property
    def permissions_label(self) -> str:
        return self.label(self.source_ids("role_permissions")[0]) if "role_permissions" in self.control.sources else ""

    @cached_property
    def conflicts(self) -> pd.DataFrame:
        """Every rule-set conflict with its mitigation and whether that mitigation is valid at the period end:
        entitlement rules inside one system here, permission-level and cross-system rules in ``workbench.sod``."""
        rules = self.frame("sod_rules")
        extended = sod.is_extended(rules)
        found = (analytics.sod_rule_conflicts(self.held, rules[~extended]) if self.large_held is None else
                 large_analytics.sod_rule_conflicts(self.large_held, self.held_sql, rules[~extended],
                                                    self.held_catalogue))
        if extended.any():
            more = sod.extended_rule_conflicts(self.held_for_extended_rules, rules, self.role_permissions,
                                               self.listing_label, self.permissions_label)
            found = pd.concat([found.assign(evidence=pd.NA), more], ignore_index=True) if not more.empty else found
            mitigated = analytics.apply_mitigations(found, self.mitigations, self.params.period.end)
            return sod.inherit_role_mitigations(mitigated, self.role_design)
        return analytics.apply_mitigations(found, self.mitigations, self.params.period.end)

    @cached_property
    def role_design(self) -> pd.DataFrame:
        """Roles whose own permissions span both functions of a rule, with their mitigation (keyed role:<role>)."""
        found = sod.role_design_conflicts(self.frame("sod_rules"), self.role_permissions, self.permissions_label)
        return analytics.apply_mitigations(found, self.mitigations, self.params.period.end)

    @cached_property
    def accounts(self) -> pd.DataFrame:
        """The sampling frame: one item per account holding access at the period end."""
        frame = (analytics.held_accounts(self.held) if self.large_held is None else
                 large_analytics.sod_accounts(self.large_held, self.held_sql))
        frame["subject"] = analytics.subject_of(frame)
        frame["detail_key"] = frame["system"] + "|" + frame["login"]
        frame["item_key"] = frame["detail_key"]
        frame["scope"] = self.scopes_of(frame["system"])
        frame["account"] = frame["login_original"].fillna(frame["login"])
        frame["department"] = frame["person_email"].map(analytics.person_attribute(self.identities, "department"))
        frame["evidence_reference"] = [analytics.evidence_reference(label, line)
                                       for label, line in zip(frame["listing"], frame["line"])]
        return frame[frame["scope"] != "out of scope"].reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.accounts

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        return super().population_evidence() + [workpapers.table(self.reconciliation(), "Completeness and accuracy of the SoD test")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals, and accuracy of the rule set: every entitlement a rule names exists in the listings."""
        held_entitlements = (self.held[["system", "entitlement"]] if self.large_held is None else
                             self.held_catalogue[["system", "entitlement"]])
        catalogue = {(s, e.casefold()) for s, e in zip(held_entitlements["system"], held_entitlements["entitlement"])}
        rules = self.frame("sod_rules")
        if self.role_permissions is not None:
            catalogue |= {(s, str(p).casefold()) for s, p in zip(self.role_permissions["system"],
                                                                  self.role_permissions["permission"])}
        systems_b = sod.rule_system_b(rules)
        named = {(system, str(e).casefold()) for r, b in zip(rules.itertuples(), systems_b)
                 for system, names in ((r.system, r.entitlements_a), (b, r.entitlements_b)) for e in names}
        unknown = sorted(f"{s}: {e}" for s, e in named - catalogue)
        held_anywhere = {e for _, e in catalogue}
        unknown += sorted(f"{r.rule_id}: {e}" for r in self.settings.attribute_rules for e in r.entitlements
                          if not any((s, e.casefold()) in catalogue for s in r.systems) and e.casefold() not in held_anywhere)
        mitigations = self.mitigations
        read = sum(self.load(s).evidence.row_count for s in dict.fromkeys(self.source_ids("access_listings")))
        listed, outside, removed, held = self.listing_counts()
        per_system = [int((self.accounts["system"] == s).sum()) for s in self.control.systems]
        rows = [(f"Accounts holding access: {self.params.system(s).name}", n, None)
                for s, n in zip(self.control.systems, per_system)]
        rows += [("Accounts in the sampling frame (the systems' accounts above)", len(self.accounts), sum(per_system)),
                 ("Listing rows read (the exports' row counts)", listed, read),
                 (f"Listing rows outside the control's systems ({outside}) or removed by the "
                  f"extraction ({removed}), not held", outside + removed, None),
                 ("Grants held at the period end (rows read less those)", held, listed - outside - removed),
                 ("Rules in the rule set", len(rules), None),
                 ("Entitlements named by a rule that no account holds (check spelling)", len(unknown), None),
                 ("Mitigations in the register", 0 if mitigations is None else len(mitigations), None),
                 *self.extended_rows(rules),
                 ("Mitigations valid at the period end", int((self.conflicts["mitigation_status"] == "valid").sum()), None)]
        return self.checks_table(rows)

    def listing_counts(self) -> tuple[int, int, int, int]:
        """Rows of the period-end listings, those outside the control's systems, those in them removed
        by the extraction (or on a disabled account), and the grants held."""
        if self.large_held is None:
            listings = self.frames("access_listings")
            in_systems = listings["system"].isin(self.control.systems)
            removed = int((in_systems & ~analytics.held_at_extraction(listings)).sum())
            return len(listings), int((~in_systems).sum()), removed, len(self.held)
        relation = self.listing_relation("access_listings")
        in_systems = large_analytics.in_systems_sql(self.control.systems)
        held = large_analytics.held_at_extraction_sql(relation.columns)
        rows, outside, removed = relation.aggregate(
            f"count(*), count(*) FILTER (WHERE NOT {in_systems}), "
            f"count(*) FILTER (WHERE {in_systems} AND NOT ({held}))").fetchall()[0]
        return int(rows), int(outside), int(removed), int(self.held_catalogue["grants"].sum())

    def extended_rows(self, rules: pd.DataFrame) -> list[tuple[str, int, None]]:
        """Reconciliation rows of permission-level and cross-system rules (none when the rule set has neither)."""
        if not sod.is_extended(rules).any():
            return []
        loose = sod.unjoinable_accounts(self.held_for_extended_rules, rules, self.role_permissions, self.listing_label)
        rows = [("Rules in permissions or across systems (evaluated per person or account through role_permissions)",
                 int(sod.is_extended(rules).sum()), None),
                ("Role-to-permission rows read", 0 if self.role_permissions is None else len(self.role_permissions), None),
                ("Roles whose own permissions conflict (role-design conflicts)", len(self.role_design), None),
                ("Accounts holding one side of a cross-system rule not tied to an HR worker (cannot be joined across "
                 "systems, so a conflict they complete is not seen)", loose[["system", "login"]].drop_duplicates().shape[0],
                 None)]
        return rows

    # --- 3. analytics ---------------------------------------------------------------------------
    def run_analytics(self) -> pd.DataFrame:
        """Every account against the rule set (mitigations honoured), the attribute rules and, with an
        earlier HR roster, the movers' retained access."""
        parts = [
            analytics.sod_conflicts(self.conflicts, self.listing_label, self.mitigation_label),
            sod.role_design_hits(self.role_design, self.mitigation_label),
            self.attribute_conflicts(),
        ]
        if "access_baseline" in self.control.sources:
            parts.append(self.baseline_deviations())
        if "hr_prior" in self.control.sources:
            parts.append(self.mover_retained_access())
        self.hits = self.combine_hits(parts)
        return self.hits

    def baseline_deviations(self) -> pd.DataFrame:
        """Access held outside the role baseline (``sod.baseline_deviations``; in DuckDB when large, reading
        back only the grants of the deviations)."""
        baseline, label = self.frame("access_baseline"), self.label(self.source_ids("access_baseline")[0])
        if (listing := self.large_held) is not None:
            return large_analytics.sod_baseline_deviations(listing, self.held_sql, self.identities, baseline, label,
                                                           self.listing_label)
        return sod.baseline_deviations(self.held, self.identities, baseline, label, self.listing_label)

    def mover_retained_access(self) -> pd.DataFrame:
        """Movers' access of the previous job (``analytics.mover_retained_access``; in DuckDB when large,
        reading back only the movers' old grants and enough of their new peers' to count them)."""
        s = self.settings
        arguments = (self.identities, self.frame("hr_prior"), self.extracted_at("hr_prior"), self.params.period.end,
                     s.mover_grace_days, s.mover_peer_attribute, s.mover_min_peers)
        if (listing := self.large_held) is not None:
            return large_analytics.sod_mover_retained_access(listing, self.held_sql, *arguments,
                                                             listing_label=self.listing_label)
        return analytics.mover_retained_access(self.held, *arguments, listing_label=self.listing_label)

    def rules_run(self) -> tuple[str, ...]:
        return ("sod_conflict", "sod_attribute_conflict") + \
            (("sod_role_design_conflict",) if "role_permissions" in self.control.sources else ()) + \
            (("baseline_deviation",) if "access_baseline" in self.control.sources else ()) + \
            (("mover_retained_access",) if "hr_prior" in self.control.sources else ())

    def conflicts_table(self) -> pd.DataFrame:
        """Every rule-set conflict found, mitigated or not, with its mitigation."""
        frame = self.conflicts.copy()
        frame["subject"] = analytics.subject_of(frame)
        for column in ("valid_from", "valid_to"):
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
        return frame[["rule_id", "subject", "system", "held_a", "held_b", "mitigation_id", "mitigation_status",
                      "valid_from", "valid_to"]]

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test S1–S3 on each selected account."""
        result = items.copy()
        keys = list(zip(result["system"], result["login"]))
        conflicts = self.conflicts
        open_ = set(zip(conflicts.loc[conflicts["mitigation_status"] != "valid", "system"],
                        conflicts.loc[conflicts["mitigation_status"] != "valid", "login"]))
        result["S1_no_rule_conflict"] = self.verdict(pd.Series([k not in open_ for k in keys], index=result.index))
        attribute_hits = self.attribute_conflicts(self.held_of_logins(set(result["login"])))
        broken = {tuple(k.split("|")[:2]) for k in attribute_hits["detail_key"]}
        result["S2_attribute_rules_met"] = self.verdict(pd.Series([k not in broken for k in keys], index=result.index))
        relied = conflicts[conflicts["mitigation_status"] != "none"]
        ok = {}
        for row in relied.itertuples():
            approver = str(row.mitigation_approved_by).casefold()
            good = row.mitigation_status == "valid" and approver not in (str(row.person_email), str(row.login))
            ok[(row.system, row.login)] = ok.get((row.system, row.login), True) and good
        result["S3_mitigation_valid"] = self.verdict(pd.Series([ok.get(k, False) for k in keys], index=result.index),
                                                     pd.Series([k in ok for k in keys], index=result.index))
        return result
