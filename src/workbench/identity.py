"""Identity resolution: which HR worker holds an account, or is named on a review line, a ticket
or a register row.

People are the HR roster's workers, keyed by their HR e-mail (``identities.email``): every rule
that compares people (self-review, self-approval, approver is the manager, a leaver's access)
compares these keys. Exports name people in many ways: a work e-mail, an employee number, an
application login the identity provider assigned, a short login, a display name, or nothing a
rule can use, for which the entity keeps an alias table. Each system declares the rules to try,
in order (``systems[].identity_match`` of the period file); people named outside a system's
accounts (reviewers, requesters, approvers) are recognised by ``people_match``.

A rule matches when exactly one worker has the key. A key held by several workers (two people
named "Sam Patel", one e-mail on two HR rows) is *ambiguous*: the next rule is tried, and if none
matches the row is listed as ambiguous with its candidates, never guessed and never called an
orphan. Every resolved row records the rule that matched it, for the evidence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.populations.arrowtext import _arrow_of, _fold_arrow, _null_empty, _trim
from workbench.valuemap import map_distinct, transform_distinct

#: The rules, in the words the workpaper uses for each.
MATCH_RULES: Mapping[str, str] = {
    "email": "the e-mail (or a login that is an e-mail) is the worker's HR e-mail",
    "employee_id": "the account carries the worker's HR employee number",
    "application_login": "the identity provider assigned the account to the worker (its application username)",
    "login": "the login is the worker's identity-provider login",
    "email_local_part": "the login, or the e-mail before the @, is the worker's HR e-mail before the @",
    "display_name": "the name is the worker's HR name (accents, case, punctuation and 'Last, First' ignored)",
    "alias": "the entity's alias table names the worker for this account or name",
}
#: A system's rules when the period file declares none: what the workbench always did (e-mail,
#: then the employee number, then the IdP's application login).
DEFAULT_SYSTEM_MATCH: tuple[str, ...] = ("email", "employee_id", "application_login")
#: How reviewers, requesters and approvers are recognised when the period file declares nothing.
DEFAULT_PEOPLE_MATCH: tuple[str, ...] = ("email", "employee_id", "display_name")
UNMATCHED = "unmatched"
AMBIGUOUS = "ambiguous"
#: Systems an alias row without a system applies to.
ANY_SYSTEM = ""


def normalise_name(value: object) -> str | None:
    """A person's name as two spellings of it compare: accents, case and punctuation dropped,
    "Last, First" turned round, whitespace collapsed; None for a missing or blank name."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    if text.count(",") == 1:
        last, first = text.split(",")
        text = f"{first} {last}"
    text = re.sub(r"['’`.]", "", text)
    text = re.sub(r"[^\w]+", " ", text).strip()
    return text or None


def local_part(value: object) -> str | None:
    """The part of an e-mail before the @ (a login without an @ is its own local part), casefolded."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip().casefold()
    text = text.split("@", 1)[0] if "@" in text else text
    return text or None


def _folded(values: pd.Series) -> pd.Series:
    """Text keys as rules compare them: trimmed and casefolded, NA for blanks (a pandas ``string``
    Series on the values' index). The same as ``.str.strip().str.casefold()``, in Arrow: trimmed by
    Arrow's whitespace kernel (which pandas' ``strip`` calls), casefolded by Arrow's ASCII lowering
    for ASCII text and by Python's ``str.casefold`` for the other values only
    (:mod:`workbench.populations.arrowtext`)."""
    text = _null_empty(_fold_arrow(_trim(_arrow_of(values.astype("string")))))
    return pd.Series(pd.arrays.ArrowStringArray(text), index=values.index, name=values.name)


def _folded_distinct(values: pd.Series) -> pd.Series:
    """:func:`_folded` (once per value: its Arrow kernels cost less than finding the distinct values)."""
    return _folded(values)


@dataclass(frozen=True)
class KeyIndex:
    """One rule's keys: key -> the one worker who has it, and key -> the several who share it."""

    unique: Mapping[str, str]
    shared: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, keys: pd.Series, people: pd.Series) -> KeyIndex:
        """Index (key, worker) pairs; a key of two or more workers is shared, never unique.

        One pass over the distinct pairs in a dict (keys in order of first appearance; shared keys
        sorted, each with its workers sorted): a roster's few hundred or thousand pairs cost less
        this way than pandas' de-duplication and grouping of Arrow-backed text, and a large one
        about the same."""
        key_values = keys.astype("string").to_numpy(dtype=object, na_value=None)
        person_values = people.astype("string").to_numpy(dtype=object, na_value=None)
        workers_of: dict[str, list[str]] = {}
        for key, person in dict.fromkeys(zip(key_values, person_values)):
            if key is not None and person is not None:
                workers_of.setdefault(key, []).append(person)
        unique = {key: workers[0] for key, workers in workers_of.items() if len(workers) == 1}
        shared = {key: tuple(sorted(workers)) for key, workers in sorted(workers_of.items()) if len(workers) > 1}
        return cls(unique, shared)

    @cached_property
    def unique_series(self) -> pd.Series:
        """``unique`` as the Series ``Series.map`` makes of a dict on every call, made once: a
        control looks keys up rule by rule, column by column, against the same index."""
        return _as_mapper(self.unique)

    @cached_property
    def shared_series(self) -> pd.Series:
        """Each shared key -> its workers joined by ", ", as a Series made once (see ``unique_series``)."""
        return _as_mapper({k: ", ".join(v) for k, v in self.shared.items()})

    @cached_property
    def unique_arrow(self) -> tuple[pa.Array, pa.Array]:
        """``unique`` as Arrow text (keys, workers), made once, for :func:`_looked_up`."""
        return _as_arrow_pairs(self.unique)

    @cached_property
    def shared_arrow(self) -> tuple[pa.Array, pa.Array]:
        """``shared`` as Arrow text (keys, the workers joined by ", "), made once, for :func:`_looked_up`."""
        return _as_arrow_pairs({k: ", ".join(v) for k, v in self.shared.items()})


def _as_arrow_pairs(mapping: Mapping[str, str]) -> tuple[pa.Array, pa.Array]:
    """A text -> text mapping as two aligned Arrow ``large_string`` arrays (keys, values)."""
    return (pa.array(list(mapping.keys()), pa.large_string()), pa.array(list(mapping.values()), pa.large_string()))


def _looked_up(keys: pd.Series, pairs: tuple[pa.Array, pa.Array]) -> pd.Series:
    """The value of each key (NA where the mapping has none) as a pandas ``string`` Series on the keys'
    index: ``keys.map(mapping).astype("string")`` as one Arrow hash look-up (``index_in``, ``take``),
    without building pandas' indexer on every call. Text keys only (the rules' keys are ``string``)."""
    values = pa.array(keys.array)
    if values.type != pa.large_string():
        values = values.cast(pa.large_string())
    found = pc.take(pairs[1], pc.index_in(values, value_set=pairs[0]))
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([found]) if isinstance(found, pa.Array) else found),
                     index=keys.index, name=keys.name)


def _as_mapper(mapping: Mapping[str, str]) -> pd.Series:
    """The Series ``Series.map(mapping)`` builds from a dict (pandas' own recipe: float64 when
    empty, else the values on an index of the keys), so mapping through it gives the same result."""
    if not mapping:
        return pd.Series(mapping, dtype=np.float64)
    return pd.Series(list(mapping.values()), index=pd.Index(list(mapping.keys()), tupleize_cols=False))


@dataclass(frozen=True)
class Directory:
    """Every key a worker may be known by, rule by rule.

    Rules scoped to a system (the application login, an alias given for one system) are keyed
    ``system + "\\x1f" + key``; the others by the key alone.
    """

    indexes: Mapping[str, KeyIndex]
    scoped: frozenset[str] = field(default_factory=frozenset)
    rules_available: frozenset[str] = field(default_factory=frozenset)

    def lookup(self, rule: str, keys: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(the worker each key names, or NA; the workers an ambiguous key names, or NA)."""
        index = self.indexes.get(rule)
        if index is None:
            empty = pd.Series(pd.NA, index=keys.index, dtype="string")
            return empty, empty
        if isinstance(keys.dtype, pd.StringDtype) and keys.dtype.storage == "pyarrow":
            return _looked_up(keys, index.unique_arrow), _looked_up(keys, index.shared_arrow)
        person = keys.map(index.unique_series).astype("string")
        shared = keys.map(index.shared_series).astype("string")
        return person, shared


def _scoped(system: pd.Series, keys: pd.Series) -> pd.Series:
    return system.astype("string").fillna(ANY_SYSTEM) + "\x1f" + keys


def build_directory(identities: pd.DataFrame, idp_users: pd.DataFrame | None = None,
                    assignments: pd.DataFrame | None = None, aliases: pd.DataFrame | None = None) -> Directory:
    """The directory of one control's people: the HR roster, and where given the IdP's users (for
    ``login``), its application assignments (for ``application_login``) and an alias table.

    The IdP's users and assignments are tied to workers by e-mail or employee number first (their
    own logins are e-mails or carry the number); an alias row names its worker by HR e-mail or
    employee number.
    """
    hr = identities.dropna(subset=["email"])
    email = _folded(hr["email"])
    indexes: dict[str, KeyIndex] = {
        "email": KeyIndex.build(email, email),
        "email_local_part": KeyIndex.build(map_distinct(email, local_part), email),
    }
    if "employee_id" in hr:
        indexes["employee_id"] = KeyIndex.build(hr["employee_id"].astype("string").str.strip(), email)
    if "full_name" in hr:
        indexes["display_name"] = KeyIndex.build(map_distinct(hr["full_name"], normalise_name), email)
    scoped = set()
    base = Directory(dict(indexes))
    if idp_users is not None and len(idp_users):
        owners = resolve_keys(base, idp_users, ("email", "employee_id"), emails=("login", "email"),
                              employee_ids=("employee_id",))
        indexes["login"] = KeyIndex.build(_folded(idp_users["login"]), owners["person"])
    if assignments is not None and len(assignments) and "application_login" in assignments:
        owners = resolve_keys(base, assignments, ("email",), emails=("login", "email"))
        keys = _scoped(assignments["system"], _folded(assignments["application_login"]))
        indexes["application_login"] = KeyIndex.build(keys.where(assignments["system"].notna()), owners["person"])
        scoped.add("application_login")
    if aliases is not None and len(aliases):
        person = resolve_keys(base, aliases.assign(_person=aliases["person"]), ("email", "employee_id"),
                              emails=("_person",), employee_ids=("_person",))["person"]
        system = aliases["system"] if "system" in aliases else pd.Series(pd.NA, index=aliases.index)
        identifier = aliases["identifier"].astype("string")
        keys = pd.concat([_scoped(system, _folded(identifier)), _scoped(system, map_distinct(identifier, normalise_name))])
        indexes["alias"] = KeyIndex.build(keys, pd.concat([person, person]))
        scoped.add("alias")
    return Directory(indexes, frozenset(scoped), frozenset(indexes))


#: Which of a row's columns each rule reads, by the kind of value the rule compares.
_RULE_INPUTS = {
    "email": "emails", "employee_id": "employee_ids", "application_login": "logins", "login": "logins",
    "email_local_part": "locals", "display_name": "names", "alias": "aliases",
}


def resolve_keys(directory: Directory, frame: pd.DataFrame, order: Sequence[str], *,
                 emails: Sequence[str] = (), logins: Sequence[str] = (), employee_ids: Sequence[str] = (),
                 names: Sequence[str] = (), system: str | None = None) -> pd.DataFrame:
    """The worker of each row of ``frame`` by the rules of ``order``, tried in order.

    ``emails``/``logins``/``employee_ids``/``names``: the row's columns each kind of rule reads
    (the local-part rule reads the e-mail and login columns, the alias rule every column given);
    ``system``: the column naming the row's system, for the scoped rules. Returns, on the frame's
    index: ``person`` (the HR e-mail, NA when no rule matched), ``match_rule`` (the rule that
    matched, ``ambiguous`` or ``unmatched``) and ``candidates`` (for an ambiguous row, the workers
    its key names).
    """
    def present(columns: Iterable[str]) -> list[str]:
        return [c for c in columns if c in frame]

    systems = frame[system] if system and system in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    kinds = {
        "emails": lambda: [_folded_distinct(frame[c]) for c in present([*emails, *logins])],
        "employee_ids": lambda: [transform_distinct(frame[c].astype("string"), lambda v: v.str.strip())
                                 for c in present(employee_ids)],
        "logins": lambda: [_folded_distinct(frame[c]) for c in present(logins)],
        "locals": lambda: [map_distinct(frame[c], local_part).astype("string") for c in present([*logins, *emails])],
        "names": lambda: [map_distinct(frame[c], normalise_name).astype("string") for c in present(names)],
        "aliases": lambda: [*(_folded_distinct(frame[c]) for c in present([*logins, *emails, *employee_ids])),
                            *(map_distinct(frame[c], normalise_name).astype("string") for c in present(names))],
    }
    inputs: dict[str, list[pd.Series]] = {}   # each kind of key computed once, and only if a rule reads it
    # the three results as NumPy object arrays (None: no value yet), made pandas ``string`` columns at the
    # end: setting rows of a ``string`` Series position by position costs more than the look-ups
    rows = len(frame)
    person = np.full(rows, None, dtype=object)
    rule = np.full(rows, UNMATCHED, dtype=object)
    candidates = np.full(rows, None, dtype=object)
    open_mask = np.ones(rows, dtype=bool)
    for name in order:
        kind = _RULE_INPUTS[name]
        for all_keys in inputs[kind] if kind in inputs else inputs.setdefault(kind, kinds[kind]()):
            # only the rows still open are looked up (by position): a matched row keeps its worker, its
            # rule and its candidates whatever a later rule says, so the result is that of every row
            open_rows = np.flatnonzero(open_mask)
            if not len(open_rows):
                break
            keys = all_keys.iloc[open_rows]
            if name in directory.scoped:
                found, shared = directory.lookup(name, _scoped(systems.iloc[open_rows], keys))
                if name == "alias":   # an alias given for no system applies to every system
                    any_found, any_shared = directory.lookup(name, _scoped(pd.Series(pd.NA, index=keys.index), keys))
                    found, shared = found.fillna(any_found), shared.fillna(any_shared)
            else:
                found, shared = directory.lookup(name, keys)
            take = found.notna().to_numpy()
            person[open_rows[take]] = found.to_numpy(dtype=object)[take]
            rule[open_rows[take]] = name
            open_mask[open_rows[take]] = False
            flag = ~take & shared.notna().to_numpy() & _is_none(candidates[open_rows])
            candidates[open_rows[flag]] = shared.to_numpy(dtype=object)[flag]
        if not open_mask.any():
            break   # every row has its worker: no later rule can change a row
    rule[open_mask & ~_is_none(candidates)] = AMBIGUOUS
    candidates[~open_mask] = None
    return pd.DataFrame({"person": pd.array(person, dtype="string"), "match_rule": pd.array(rule, dtype="string"),
                         "candidates": pd.array(candidates, dtype="string")}, index=frame.index)


def _is_none(values: np.ndarray) -> np.ndarray:
    """Which cells of an object array hold no value yet (None)."""
    return np.equal(values, None)


def resolve_by_system(directory: Directory, frame: pd.DataFrame, orders: Mapping[str, Sequence[str]],
                      default: Sequence[str] = DEFAULT_SYSTEM_MATCH, *, system: str = "system",
                      **columns: Sequence[str]) -> pd.DataFrame:
    """:func:`resolve_keys` with each row's rules those of its system (``orders``: system id ->
    rules; a system not listed, or a row without a system, uses ``default``)."""
    if frame.empty:
        return resolve_keys(directory, frame, default, system=system, **columns)
    # each row's rules are its system's: worked out once per distinct system, grouped in order of first row
    codes, uniques = pd.factorize(frame[system], use_na_sentinel=False)
    system_orders = [tuple(orders.get(s, default)) if isinstance(s, str) else tuple(default) for s in uniques]
    parts = []
    for order in dict.fromkeys(system_orders):
        rows = np.isin(codes, [code for code, o in enumerate(system_orders) if o == order])
        parts.append(resolve_keys(directory, frame[rows], order, system=system, **columns))
    return pd.concat(parts).reindex(frame.index)


def match_summary(resolved: pd.DataFrame, by: pd.Series) -> pd.DataFrame:
    """Rows per group (e.g. system) and rule, for the evidence: how each was tied to a person."""
    counts = (pd.DataFrame({"group": by.astype("string").fillna("(none)").to_numpy(),
                            "rule": resolved["match_rule"].to_numpy()})
              .groupby(["group", "rule"], sort=True).size().rename("rows").reset_index())
    return counts
