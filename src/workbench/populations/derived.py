"""Tables derived from populations: the ``accounts`` view of the ERP and GitHub ``grants``
(:func:`erp_accounts`, :func:`github_accounts`), and :func:`reconcile`, which matches two
populations on a key as completeness evidence (:class:`Reconciliation`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .contract import ACCOUNT_COLUMNS
from .evidence import Population
from .frames import _constant, _nat

_ERP_ACCOUNT_ATTRIBUTES = ("account_id", "login_original", "email", "email_original",
                           "display_name", "account_status", "account_status_original",
                           "created_at", "last_login_at", "last_login_state")


def erp_accounts(grants: Population | pd.DataFrame) -> pd.DataFrame:
    """One ``accounts`` row per ERP user from the ERP user x role ``grants`` table.

    The ERP listing repeats each user's attributes on every role line; they must agree, else a
    :class:`ValueError` names the login and the lines. ``line`` is the user's first line. A user
    whose roles were all removed in the period is still an account (it was listed).
    """
    frame = grants.frame if isinstance(grants, Population) else grants
    distinct = frame[["login", *_ERP_ACCOUNT_ATTRIBUTES]].drop_duplicates()
    conflicting = distinct[distinct["login"].duplicated(keep=False)]
    if not conflicting.empty:
        login = conflicting["login"].iloc[0]
        versions = conflicting[conflicting["login"] == login]
        differing = [c for c in _ERP_ACCOUNT_ATTRIBUTES
                     if versions[c].nunique(dropna=False) > 1]
        lines = frame.loc[frame["login"] == login, "line"].tolist()
        raise ValueError(f"ERP user {login!r} has different {', '.join(differing)} on lines "
                         f"{', '.join(map(str, lines))}; the listing is inconsistent.")
    first = (frame.sort_values("line", kind="stable").drop_duplicates("login", keep="first")
             .reset_index(drop=True))
    n = len(first)
    return pd.DataFrame({
        "system": first["system"],
        "account_id": first["account_id"],
        "login": first["login"],
        "login_original": first["login_original"],
        "email": first["email"],
        "email_original": first["email_original"],
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": first["display_name"],
        "status": first["account_status"],
        "status_original": first["account_status_original"],
        "created_at": first["created_at"],
        "last_login_at": first["last_login_at"],
        "last_login_state": first["last_login_state"],
        "status_changed_at": _nat(n),
        "mfa_enabled": _constant(pd.NA, n, "boolean"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "line": first["line"].astype("int64"),
    })


def github_accounts(members: Population | pd.DataFrame) -> pd.DataFrame:
    """The ``accounts`` view of the GitHub member frame: :data:`ACCOUNT_COLUMNS`, the GitHub
    extras (``role``, ``privileged``, ``membership_visibility``, ``verified_domain_emails``) and
    ``line``."""
    frame = members.frame if isinstance(members, Population) else members
    view = frame[[*ACCOUNT_COLUMNS, "entitlement", "privileged", "membership_visibility",
                  "verified_domain_emails", "line"]]
    return view.rename(columns={"entitlement": "role"}).reset_index(drop=True)


_DIRECTIONS = ("left_in_right", "right_in_left", "both")


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """The result of matching two populations on a key (completeness evidence).

    ``direction`` states what completeness means for this reconciliation: ``left_in_right``
    (every left key is in the right population, e.g. every active HR employee has an Okta
    identity), ``right_in_left`` or ``both``. Rows with an empty key can never match and are
    counted separately (and make the side they are on incomplete).
    """

    left_name: str
    right_name: str
    left_key: str
    right_key: str
    direction: str
    left_rows: int
    right_rows: int
    left_keys: int
    right_keys: int
    matched_keys: int
    left_empty_keys: int
    right_empty_keys: int
    unmatched_left: pd.DataFrame
    unmatched_right: pd.DataFrame

    @property
    def left_complete(self) -> bool:
        """Every left row's key is present on the right."""
        return self.unmatched_left.empty and self.left_empty_keys == 0

    @property
    def right_complete(self) -> bool:
        """Every right row's key is present on the left."""
        return self.unmatched_right.empty and self.right_empty_keys == 0

    @property
    def is_complete(self) -> bool:
        """Complete in the stated ``direction``."""
        if self.direction == "left_in_right":
            return self.left_complete
        if self.direction == "right_in_left":
            return self.right_complete
        return self.left_complete and self.right_complete

    def as_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a workpaper table."""
        statement = {
            "left_in_right": f"every {self.left_name} key is in {self.right_name}",
            "right_in_left": f"every {self.right_name} key is in {self.left_name}",
            "both": f"{self.left_name} and {self.right_name} have the same keys",
        }[self.direction]
        rows = [
            ("Reconciliation", f"{self.left_name}.{self.left_key} to "
                               f"{self.right_name}.{self.right_key}"),
            ("Completeness tested", statement),
            (f"{self.left_name} rows", f"{self.left_rows:,}"),
            (f"{self.right_name} rows", f"{self.right_rows:,}"),
            (f"{self.left_name} distinct keys", f"{self.left_keys:,}"),
            (f"{self.right_name} distinct keys", f"{self.right_keys:,}"),
            ("Matched keys", f"{self.matched_keys:,}"),
            (f"{self.left_name} rows not in {self.right_name}", f"{len(self.unmatched_left):,}"),
            (f"{self.right_name} rows not in {self.left_name}", f"{len(self.unmatched_right):,}"),
        ]
        if self.left_empty_keys:
            rows.append((f"{self.left_name} rows with an empty key", f"{self.left_empty_keys:,}"))
        if self.right_empty_keys:
            rows.append((f"{self.right_name} rows with an empty key",
                         f"{self.right_empty_keys:,}"))
        rows.append(("Result", "complete" if self.is_complete else "NOT complete"))
        return rows


def reconcile(left: pd.DataFrame, right: pd.DataFrame, left_key: str, right_key: str,
              left_name: str, right_name: str, *, direction: str = "left_in_right"
              ) -> Reconciliation:
    """Match ``left`` and ``right`` on their key columns and report what does not match.

    Keys are compared exactly as given: pass canonical (casefolded) key columns. Unmatched rows
    are returned whole (with their ``line``) so they can be cited as exceptions.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; use one of {', '.join(_DIRECTIONS)}.")
    for frame, key, name in ((left, left_key, left_name), (right, right_key, right_name)):
        if key not in frame.columns:
            raise ValueError(f"{name} has no column {key!r}; columns: {', '.join(frame.columns)}.")
    left_numeric = pd.api.types.is_numeric_dtype(left[left_key])
    right_numeric = pd.api.types.is_numeric_dtype(right[right_key])
    if left_numeric != right_numeric:
        raise ValueError(f"cannot reconcile {left_name}.{left_key} ({left[left_key].dtype}) with "
                         f"{right_name}.{right_key} ({right[right_key].dtype}): one key is "
                         "numeric and the other is not (leading zeros would be lost).")
    left_values = left[left_key]
    right_values = right[right_key]
    left_set = set(left_values.dropna())
    right_set = set(right_values.dropna())
    unmatched_left = left[left_values.notna() & ~left_values.isin(right_set)]
    unmatched_right = right[right_values.notna() & ~right_values.isin(left_set)]
    return Reconciliation(
        left_name=left_name, right_name=right_name, left_key=left_key, right_key=right_key,
        direction=direction, left_rows=len(left), right_rows=len(right),
        left_keys=len(left_set), right_keys=len(right_set),
        matched_keys=len(left_set & right_set),
        left_empty_keys=int(left_values.isna().sum()),
        right_empty_keys=int(right_values.isna().sum()),
        unmatched_left=unmatched_left.reset_index(drop=True),
        unmatched_right=unmatched_right.reset_index(drop=True),
    )
