"""Segregation of duties in permissions and across systems, role-design conflicts (issue 16, item 4).

The rule set (``sod_rules``) may name permissions rather than entitlements (``level: permission``)
and may pair a function of one system with a function of another (``system_b``). A person holds a
permission when a role they hold grants it (``role_permissions``, e.g. SAP AGR_1251) or when they
hold an entitlement of that name directly. Inside one system the account is the holder; across
systems the person (``person_email`` from identity resolution) is, so an account not tied to a
person cannot be joined across systems and is counted apart (``unjoinable_accounts``).

A role whose own permissions span both functions of a permission-level rule is a role-design
conflict (rule ``sod_role_design_conflict``; the subject is the role), reported apart from the
users who hold it. A mitigation of a role-design conflict names the rule and, in the register's
``login`` column, ``role:<role name>`` (casefolded like every login).

Rules with neither (level empty or ``entitlement``, no ``system_b``) are left to
``analytics.sod_rule_conflicts`` unchanged, so existing rule sets give the same results.
"""

from __future__ import annotations

import pandas as pd

from workbench.analytics import SOD_CONFLICT_COLUMNS, _hits

#: Columns of an extended (permission-level or cross-system) conflict: the analytics' columns plus
#: the evidence reference, written here because a permission has two sources (grant and role row).
EXTENDED_COLUMNS = [*SOD_CONFLICT_COLUMNS, "evidence", "single_role"]
ROLE_DESIGN_COLUMNS = ["system", "role", "login", "person_email", "rule_id", "risk_level", "function_a",
                       "function_b", "held_a", "held_b", "lines", "evidence"]
ROLE_PREFIX = "role:"


def _text(value: object) -> str:
    """A cell as stripped text ('' when empty)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def rule_level(rules: pd.DataFrame) -> pd.Series:
    """Each rule's level, 'entitlement' when the rule set has no ``level`` column or leaves it empty."""
    if "level" not in rules:
        return pd.Series("entitlement", index=rules.index)
    return rules["level"].map(lambda v: _text(v).casefold() or "entitlement")


def rule_system_b(rules: pd.DataFrame) -> pd.Series:
    """Each rule's system of function b: ``system_b`` when given, else the rule's system."""
    if "system_b" not in rules:
        return rules["system"].copy()
    return pd.Series([_text(b) or a for a, b in zip(rules["system"], rules["system_b"])], index=rules.index)


def is_extended(rules: pd.DataFrame) -> pd.Series:
    """Rules this module evaluates: permission-level or cross-system ones."""
    return (rule_level(rules) == "permission") | (rule_system_b(rules) != rules["system"])


def holdings(held: pd.DataFrame, role_permissions: pd.DataFrame | None, listing_label: str,
             permissions_label: str) -> pd.DataFrame:
    """What each grant gives: itself, and every permission its role grants in ``role_permissions``.

    One row per (grant, name held) with ``name`` (as written), ``_name`` (casefolded), ``role``
    (the granting role, empty when held directly) and the evidence of both rows (the listing line
    of the grant, the role_permissions line of the permission).
    """
    base = held[["system", "login", "login_original", "person_email", "entitlement", "line"]].copy()
    base["listing"] = held["listing"] if "listing" in held else listing_label
    base["listing"] = base["listing"].where(base["listing"].map(lambda v: bool(_text(v))), listing_label)
    direct = base.assign(name=base["entitlement"], role=pd.NA, permission_line=pd.NA)
    parts = [direct]
    if role_permissions is not None and not role_permissions.empty:
        table = role_permissions[["system", "role", "permission", "line"]].rename(
            columns={"line": "permission_line", "role": "_role_name"})
        table["_role"] = table["_role_name"].astype("string").str.strip().str.casefold()
        base["_role"] = base["entitlement"].astype("string").str.strip().str.casefold()
        granted = base.merge(table, on=["system", "_role"], how="inner")
        granted = granted.assign(name=granted["permission"], role=granted["entitlement"])
        parts.append(granted.drop(columns=["_role", "_role_name", "permission"]))
    out = pd.concat(parts, ignore_index=True)
    out["_name"] = out["name"].astype("string").str.strip().str.casefold()
    out["permissions_label"] = permissions_label
    return out.sort_values(["system", "login", "line", "name"], kind="mergesort").reset_index(drop=True)


def _side(rules: pd.DataFrame, side: str) -> pd.DataFrame:
    """One row per (rule, name) of one side of the rules, with the side's system."""
    systems = rules["system"] if side == "a" else rule_system_b(rules)
    part = pd.DataFrame({"rule_id": rules["rule_id"], "system": systems, "names": rules[f"entitlements_{side}"],
                         "level": rule_level(rules)}).explode("names").dropna(subset=["names"])
    part["_name"] = part["names"].astype("string").str.strip().str.casefold()
    part["side"] = side
    return part.drop(columns=["names"]).drop_duplicates(["rule_id", "side", "_name"])


def _how(row: pd.Series) -> str:
    """How a holding is held, e.g. ``Z_MM_VENDOR_MAINT→BP`` (through a role) or ``BP`` (directly)."""
    return f"{row['role']}→{row['name']}" if _text(row["role"]) else str(row["name"])


def _evidence(rows: pd.DataFrame) -> str:
    """The evidence of a conflict: each grant's listing line and each permission's role_permissions line."""
    refs: list[str] = []
    for row in rows.itertuples():
        account = row.login_original if _text(row.login_original) else row.login
        refs.append(f"{row.listing} line {int(row.line)} ({account} holds {row.entitlement})")
        if _text(row.role):
            refs.append(f"{row.permissions_label} line {int(row.permission_line)} ({row.role} grants {row.name})")
    return "; ".join(dict.fromkeys(refs))


def _matched(holding: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Holdings matched to the sides of extended rules (entitlement-level rules match direct holdings only)."""
    long = pd.concat([_side(rules, "a"), _side(rules, "b")], ignore_index=True)
    hits = holding.merge(long, on=["system", "_name"], how="inner")
    return hits[(hits["level"] == "permission") | hits["role"].isna()]


def extended_rule_conflicts(held: pd.DataFrame, rules: pd.DataFrame, role_permissions: pd.DataFrame | None,
                            listing_label: str, permissions_label: str) -> pd.DataFrame:
    """Every holder of both functions of a permission-level or cross-system rule.

    The holder is the account (system + login) for a rule inside one system and the person
    (``person_email``) for a cross-system rule; ``system``/``login`` name the holder's account on
    side a. One row per (holder, rule) with what is held on each side and the evidence.
    """
    rules = rules[is_extended(rules)]
    if rules.empty or held.empty:
        return pd.DataFrame(columns=EXTENDED_COLUMNS)
    hits = _matched(holdings(held, role_permissions, listing_label, permissions_label), rules)
    cross = set(rules.loc[rule_system_b(rules) != rules["system"], "rule_id"])
    hits = hits.assign(_holder=[f"{p}" if r in cross else f"{s}|{lg}" for r, p, s, lg in
                                zip(hits["rule_id"], hits["person_email"], hits["system"], hits["login"])])
    hits = hits[~(hits["rule_id"].isin(cross) & hits["person_email"].isna())]
    info = rules.drop_duplicates("rule_id").set_index("rule_id")
    rows = []
    for (rule_id, _holder), group in hits.groupby(["rule_id", "_holder"], sort=True):
        if group["side"].nunique() < 2:
            continue
        group = group.sort_values(["side", "system", "login", "line", "name"], kind="mergesort")
        a, b = group[group["side"] == "a"], group[group["side"] == "b"]
        prefix = rule_id in cross
        held_a, held_b = ([(f"{r['system']}: " if prefix else "") + _how(r) for _, r in part.iterrows()] for part in (a, b))
        first = a.iloc[0]
        roles = {(s, r) for s, r in zip(group["system"], group["role"]) if _text(r)}
        single = next(iter(roles))[1] if len(roles) == 1 and group["role"].notna().all() else pd.NA
        rows.append({
            "system": first["system"], "login": first["login"], "login_original": first["login_original"],
            "person_email": first["person_email"], "rule_id": rule_id, "risk_level": info.at[rule_id, "risk_level"],
            "function_a": info.at[rule_id, "function_a"], "function_b": info.at[rule_id, "function_b"],
            "held_a": " + ".join(dict.fromkeys(held_a)), "held_b": " + ".join(dict.fromkeys(held_b)),
            "lines": ", ".join(str(n) for n in sorted(set(group["line"].astype(int)))),
            "listing": first["listing"], "evidence": _evidence(group), "single_role": single,
        })
    return pd.DataFrame(rows, columns=EXTENDED_COLUMNS)


def unjoinable_accounts(held: pd.DataFrame, rules: pd.DataFrame, role_permissions: pd.DataFrame | None,
                        listing_label: str = "listing") -> pd.DataFrame:
    """Accounts holding one side of a cross-system rule that identity resolution did not tie to a person.

    Such an account cannot be joined to the person's access in the other system, so a conflict it
    completes cannot be seen: the workpaper counts them. One row per (system, login, rule_id).
    """
    rules = rules[is_extended(rules) & (rule_system_b(rules) != rules["system"])]
    if rules.empty or held.empty:
        return pd.DataFrame(columns=["system", "login", "rule_id"])
    hits = _matched(holdings(held, role_permissions, listing_label, ""), rules)
    loose = hits[hits["person_email"].isna()]
    return loose[["system", "login", "rule_id"]].drop_duplicates().sort_values(
        ["system", "login", "rule_id"], kind="mergesort").reset_index(drop=True)


def role_design_conflicts(rules: pd.DataFrame, role_permissions: pd.DataFrame | None,
                          permissions_label: str) -> pd.DataFrame:
    """Roles whose own permissions span both functions of a permission-level rule inside one system.

    Such a role gives every holder the conflict, so it is a design fault of the role, reported once
    per (role, rule) whoever holds it. ``login`` is ``role:<role>`` (casefolded) so that a mitigation
    register row naming the rule and ``role:<role>`` mitigates it.
    """
    if role_permissions is None or role_permissions.empty:
        return pd.DataFrame(columns=ROLE_DESIGN_COLUMNS)
    rules = rules[(rule_level(rules) == "permission") & (rule_system_b(rules) == rules["system"])]
    if rules.empty:
        return pd.DataFrame(columns=ROLE_DESIGN_COLUMNS)
    long = pd.concat([_side(rules, "a"), _side(rules, "b")], ignore_index=True)
    table = role_permissions[["system", "role", "permission", "line"]].copy()
    table["_name"] = table["permission"].astype("string").str.strip().str.casefold()
    hits = table.merge(long, on=["system", "_name"], how="inner")
    info = rules.drop_duplicates("rule_id").set_index("rule_id")
    rows = []
    for (system, role, rule_id), group in hits.groupby(["system", "role", "rule_id"], sort=True):
        if group["side"].nunique() < 2:
            continue
        group = group.sort_values(["side", "line"], kind="mergesort")
        names = {s: " + ".join(dict.fromkeys(group.loc[group["side"] == s, "permission"])) for s in ("a", "b")}
        lines = sorted(set(group["line"].astype(int)))
        rows.append({
            "system": system, "role": role, "login": f"{ROLE_PREFIX}{str(role).casefold()}", "person_email": pd.NA,
            "rule_id": rule_id, "risk_level": info.at[rule_id, "risk_level"],
            "function_a": info.at[rule_id, "function_a"], "function_b": info.at[rule_id, "function_b"],
            "held_a": names["a"], "held_b": names["b"], "lines": ", ".join(map(str, lines)),
            "evidence": f"{permissions_label} {'lines' if len(lines) > 1 else 'line'} {', '.join(map(str, lines))}",
        })
    return pd.DataFrame(rows, columns=ROLE_DESIGN_COLUMNS)


def role_design_hits(conflicts: pd.DataFrame, mitigation_label: str) -> pd.DataFrame:
    """Role-design conflicts that no valid mitigation covers (rule ``sod_role_design_conflict``)."""
    rows = []
    for row in conflicts[conflicts["mitigation_status"] != "valid"].itertuples():
        note = ""
        if row.mitigation_status in ("expired", "not yet valid"):
            note = f" Mitigation {row.mitigation_id} is {row.mitigation_status}, so it does not mitigate."
        evidence = row.evidence
        if pd.notna(row.mitigation_line):
            evidence += f"; {mitigation_label} line {int(row.mitigation_line)}"
        rows.append({
            "rule": "sod_role_design_conflict", "subject": row.role, "system": row.system,
            "detail_key": f"{row.system}|{row.login}|{row.rule_id}",
            "description": f"{row.system} role {row.role} itself grants {row.held_a} ({row.function_a}) and "
                           f"{row.held_b} ({row.function_b}), so everyone given the role holds both: rule "
                           f"{row.rule_id}, risk {row.risk_level}.{note}",
            "evidence_reference": evidence, "severity": "high",
        })
    return _hits(rows)


def inherit_role_mitigations(conflicts: pd.DataFrame, role_design: pd.DataFrame) -> pd.DataFrame:
    """A user conflict held wholly through one role takes that role's mitigation when the user has none.

    The role-design mitigation (``role:<role>``) accepts the conflict built into the role, so it covers
    every holder whose conflict comes only from that role; a conflict that also needs another role or a
    direct grant is the user's own and needs a mitigation for the user.
    """
    if conflicts.empty or role_design.empty or "single_role" not in conflicts:
        return conflicts
    result = conflicts.copy()
    design = role_design.assign(_role=role_design["role"].astype("string").str.casefold())
    design = design.sort_values("mitigation_status", key=lambda s: s != "valid", kind="mergesort") \
        .drop_duplicates(["system", "_role", "rule_id"]).set_index(["system", "_role", "rule_id"])
    columns = ["mitigation_id", "mitigating_control", "mitigation_approved_by", "valid_from", "valid_to",
               "mitigation_line", "mitigation_status"]
    for i, row in result.iterrows():
        if row["mitigation_status"] != "none" or not _text(row["single_role"]):
            continue
        key = (row["system"], str(row["single_role"]).casefold(), row["rule_id"])
        if key in design.index and design.at[key, "mitigation_status"] != "none":
            for column in columns:
                result.at[i, column] = design.at[key, column]
    return result


# --- role baseline (issue 16, item 5) -------------------------------------------------------------

BASELINE_ATTRIBUTES = ("department", "title", "cost_center")


def _folded(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.casefold()


def baseline_deviations(held: pd.DataFrame, identities: pd.DataFrame, baseline: pd.DataFrame, baseline_label: str,
                        listing_label: str) -> pd.DataFrame:
    """Entitlements a person holds that the role baseline of none of their HR attributes gives (rule
    ``baseline_deviation``), one per person, system and entitlement.

    A baseline row (attribute, value, system, entitlement) allows the entitlement to people whose HR
    ``attribute`` (department, title or cost_center) has that value; a person may hold what any of
    their attribute values allows. Only systems the baseline names are tested (a system it is silent
    on has no baseline), and only accounts tied to an HR worker (an unresolved account has no
    attributes: the identity controls report it). The evidence cites the grant and the baseline rows
    that apply to the person in that system (or says that none does).
    """
    if baseline.empty or held.empty:
        return _hits([])
    base = baseline.assign(_attribute=_folded(baseline["attribute"]), _value=_folded(baseline["value"]),
                           _ent=_folded(baseline["entitlement"]))
    people = identities.drop_duplicates("email").set_index("email")
    grants = held[held["system"].isin(set(base["system"])) & held["person_email"].notna()].copy()
    grants["_ent"] = _folded(grants["entitlement"])
    grants = grants.sort_values(["person_email", "system", "_ent", "line"], kind="mergesort")
    rows = []
    for (person, system, _ent), group in grants.groupby(["person_email", "system", "_ent"], sort=True):
        values = {a: _text(people.at[person, a]) if person in people.index and a in people else ""
                  for a in BASELINE_ATTRIBUTES}
        applies = base[(base["system"] == system) & pd.Series(
            [values.get(a, "").casefold() == v and bool(v) for a, v in zip(base["_attribute"], base["_value"])],
            index=base.index)]
        if _ent in set(applies["_ent"]):
            continue
        first = group.iloc[0]
        account = first["login_original"] if _text(first["login_original"]) else first["login"]
        listing = first["listing"] if "listing" in group and _text(first["listing"]) else listing_label
        lines = ", ".join(str(int(n)) for n in group["line"])
        grant = f"{listing} {'lines' if ',' in lines else 'line'} {lines} ({account} holds {first['entitlement']})"
        held_as = "; ".join(f"{a} {v}" for a, v in values.items() if v) or "no department, title or cost centre"
        if applies.empty:
            rule_ref = f"{baseline_label}: no row for {held_as} in {system}"
            allowed = "nothing in this system"
        else:
            numbers = sorted(applies["line"].astype(int))
            rule_ref = f"{baseline_label} {'lines' if len(numbers) > 1 else 'line'} {', '.join(map(str, numbers))}"
            allowed = ", ".join(dict.fromkeys(applies.sort_values("line")["entitlement"]))
        rows.append({
            "rule": "baseline_deviation", "subject": person, "system": system,
            "detail_key": f"{system}|{person}|{_ent}",
            "description": f"{system} account {account} holds {first['entitlement']}, outside the role baseline of "
                           f"{held_as} (which gives {allowed}).",
            "evidence_reference": f"{grant}; {rule_ref}", "severity": "medium",
        })
    return _hits(rows)


def baseline_keys(baseline: pd.DataFrame) -> pd.DataFrame:
    """The baseline rows that can allow anything, as ``baseline_deviations`` compares them: ``_attribute``
    one of ``BASELINE_ATTRIBUTES`` and ``_value`` non-empty (both trimmed and casefolded), with the row's
    ``system`` and ``_ent`` (its entitlement trimmed and casefolded). A key table for SQL (one row per
    distinct key): a row with another attribute or an empty value allows nothing in the rule."""
    keys = pd.DataFrame({"_attribute": _folded(baseline["attribute"]), "_value": _folded(baseline["value"]),
                         "system": baseline["system"].astype("string"), "_ent": _folded(baseline["entitlement"])})
    usable = keys["_attribute"].isin(BASELINE_ATTRIBUTES).fillna(False) & keys["_value"].fillna("").ne("")
    return keys[usable.astype(bool)].dropna(subset=["system", "_ent"]).drop_duplicates().reset_index(drop=True)


def baseline_person_values(identities: pd.DataFrame) -> pd.DataFrame:
    """Each person's HR attribute values as ``baseline_deviations`` compares them with the baseline (the
    first roster row of an e-mail; trimmed, casefolded; empty values left out): one row per (``email``,
    ``_attribute``, ``_value``). A key table for SQL."""
    people = identities.dropna(subset=["email"]).drop_duplicates("email")
    parts = [pd.DataFrame({"email": people["email"].astype("string"), "_attribute": attribute,
                           "_value": [_text(v).casefold() for v in people[attribute]]})
             for attribute in BASELINE_ATTRIBUTES if attribute in people]
    if not parts:
        return pd.DataFrame({"email": [], "_attribute": [], "_value": []}, dtype="string")
    values = pd.concat(parts, ignore_index=True).astype({"_attribute": "string", "_value": "string"})
    return values[values["_value"] != ""].reset_index(drop=True)


def baseline_entitlement_key(entitlements: pd.Series) -> pd.Series:
    """An entitlement as ``baseline_deviations`` compares it with the baseline (trimmed, casefolded)."""
    return _folded(entitlements)
