"""Identity resolution (issue 13, item 3): accounts and named people tied to HR workers by rules
declared per system, tried in order, each match recorded; an ambiguous key is never guessed."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import analytics, identity
from workbench.parameters import ParameterError, load_period

HR = pd.DataFrame({
    "employee_id": ["1001", "1002", "1003", "1004", "1005"],
    "email": ["priya.raman@kf.example", "marcus.bell@kf.example", "sam.patel@kf.example",
              "sam.patel2@kf.example", "tomasz.wisniewski@kf.example"],
    "full_name": ["Priya Raman", "Marcus Bell", "Sam Patel", "Sam Patel", "Tomasz Wiśniewski"],
})


def accounts(**columns) -> pd.DataFrame:
    rows = max(len(v) for v in columns.values())
    frame = pd.DataFrame({k: v for k, v in columns.items()})
    if "system" not in frame:
        frame["system"] = ["app"] * rows
    return frame


def resolve(frame: pd.DataFrame, order, directory=None) -> pd.DataFrame:
    directory = directory or identity.build_directory(HR)
    return identity.resolve_keys(directory, frame, order, emails=("email",), logins=("login",),
                                 employee_ids=("employee_id",), names=("display_name",), system="system")


def test_email_ignores_case_and_a_login_that_is_an_e_mail_counts():
    frame = accounts(email=["PRIYA.RAMAN@KF.EXAMPLE", None], login=["x", "Marcus.Bell@kf.example"])
    result = resolve(frame, ["email"])
    assert list(result["person"]) == ["priya.raman@kf.example", "marcus.bell@kf.example"]
    assert list(result["match_rule"]) == ["email", "email"]


def test_employee_id_matches_the_hr_number():
    result = resolve(accounts(employee_id=["1002", "9999"], login=["mbell", "ghost"]), ["email", "employee_id"])
    assert list(result["person"].fillna("-")) == ["marcus.bell@kf.example", "-"]
    assert list(result["match_rule"]) == ["employee_id", "unmatched"]


def test_a_rule_not_declared_is_not_tried():
    """IAM users named like the e-mail's local part stay unmatched (orphans) until the system declares the rule."""
    frame = accounts(login=["marcus.bell", "priya.raman"])
    assert set(resolve(frame, ["email", "employee_id"])["match_rule"]) == {"unmatched"}
    result = resolve(frame, ["email", "email_local_part"])
    assert list(result["person"]) == ["marcus.bell@kf.example", "priya.raman@kf.example"]
    assert set(result["match_rule"]) == {"email_local_part"}


@pytest.mark.parametrize("written", ["Tomasz Wisniewski", "WIŚNIEWSKI, Tomasz", "tomasz  wiśniewski", "Tomasz Wiśniewski."])
def test_display_names_compare_without_accents_case_punctuation_or_order(written):
    result = resolve(accounts(display_name=[written], login=["tw"]), ["display_name"])
    assert result.loc[0, "person"] == "tomasz.wisniewski@kf.example"
    assert result.loc[0, "match_rule"] == "display_name"


def test_a_shared_name_is_ambiguous_never_guessed_and_a_later_rule_may_still_decide():
    frame = accounts(display_name=["Sam Patel", "Sam Patel"], login=["spatel", "sam.patel2"])
    only_names = resolve(frame, ["display_name"])
    assert only_names["person"].isna().all()
    assert list(only_names["match_rule"]) == ["ambiguous", "ambiguous"]
    assert only_names.loc[0, "candidates"] == "sam.patel2@kf.example, sam.patel@kf.example"
    then_local = resolve(frame, ["display_name", "email_local_part"])
    assert list(then_local["match_rule"]) == ["ambiguous", "email_local_part"]
    assert then_local.loc[1, "person"] == "sam.patel2@kf.example"


def test_the_first_rule_in_the_declared_order_wins():
    aliases = pd.DataFrame({"system": ["app"], "identifier": ["marcus.bell"], "person": ["priya.raman@kf.example"]})
    directory = identity.build_directory(HR, aliases=aliases)
    frame = accounts(login=["marcus.bell"])
    assert resolve(frame, ["alias", "email_local_part"], directory).loc[0, "match_rule"] == "alias"
    assert resolve(frame, ["alias", "email_local_part"], directory).loc[0, "person"] == "priya.raman@kf.example"
    assert resolve(frame, ["email_local_part", "alias"], directory).loc[0, "person"] == "marcus.bell@kf.example"


def test_an_alias_table_names_people_by_e_mail_or_employee_number_in_one_system_or_all():
    aliases = pd.DataFrame({
        "system": ["sap", None, "sap"],
        "identifier": ["PRAMAN", "The Finance Director", "FF_ID01"],
        "person": ["priya.raman@kf.example", "1002", "nobody@elsewhere.example"],
    })
    directory = identity.build_directory(HR, aliases=aliases)
    frame = pd.DataFrame({"system": ["sap", "aws", "aws", "sap"], "login": ["praman", "praman", "x", "ff_id01"],
                          "display_name": [None, None, "the finance director", None]})
    result = resolve(frame, ["alias"], directory)
    assert list(result["person"].fillna("-")) == ["priya.raman@kf.example", "-", "marcus.bell@kf.example", "-"]
    # an alias naming no HR worker ties nothing
    assert result.loc[3, "match_rule"] == "unmatched"


def test_application_login_and_idp_login_come_from_the_identity_provider():
    assignments = pd.DataFrame({"system": ["sap"], "login": ["priya.raman@kf.example"], "application_login": ["PRAMAN"],
                                "email": [None]})
    users = pd.DataFrame({"login": ["mbell"], "email": ["marcus.bell@kf.example"], "employee_id": [None]})
    directory = identity.build_directory(HR, users, assignments)
    frame = pd.DataFrame({"system": ["sap", "aws", "aws"], "login": ["praman", "praman", "MBELL"]})
    result = resolve(frame, ["application_login", "login"], directory)
    assert list(result["person"].fillna("-")) == ["priya.raman@kf.example", "-", "marcus.bell@kf.example"]
    assert list(result["match_rule"]) == ["application_login", "unmatched", "login"]


def test_resolution_by_system_uses_each_systems_rules():
    frame = pd.DataFrame({"system": ["aws", "sap"], "login": ["marcus.bell", "marcus.bell"]})
    result = identity.resolve_by_system(identity.build_directory(HR), frame, {"aws": ["email_local_part"]},
                                        ["email"], logins=("login",))
    assert list(result["match_rule"]) == ["email_local_part", "unmatched"]


def test_an_ambiguous_account_is_not_an_orphan():
    grants = pd.DataFrame({"system": ["app", "app"], "login": ["sam patel", "ghost"], "login_original": ["x", "y"],
                           "email": [None, None], "display_name": ["Sam Patel", None], "entitlement": ["r", "r"],
                           "granted_at": pd.NaT, "removed_at": pd.NaT, "line": [2, 3]})
    correlated = analytics.correlate_grants(grants, HR, orders={"app": ["display_name"]})
    inventory = analytics.listing_accounts(correlated, "listing")
    orphans = analytics.orphan_accounts(inventory)
    assert list(orphans["subject"]) == ["ghost"]


NAMES = st.sampled_from(list(HR["email"]) + ["x@y.example", "marcus.bell", "1003", None])


@settings(max_examples=60, deadline=None)
@given(st.lists(NAMES, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_each_rows_worker_does_not_depend_on_the_other_rows_or_their_order(values, rnd):
    frame = pd.DataFrame({"system": "app", "login": values, "employee_id": values})
    order = ["email", "employee_id", "email_local_part"]
    whole = resolve(frame, order)
    shuffled = list(frame.index)
    rnd.shuffle(shuffled)
    again = resolve(frame.loc[shuffled], order).reindex(frame.index)
    pd.testing.assert_frame_equal(whole, again)
    for i in frame.index:
        alone = resolve(frame.loc[[i]], order)
        assert alone.loc[i, "match_rule"] == whole.loc[i, "match_rule"]


def test_the_period_file_refuses_an_unknown_or_repeated_rule(tmp_path):
    from test_check import swap, valid_period
    text = swap(valid_period(), "seed: ", "people_match: [email, e_mail, email]\nseed: ")
    path = tmp_path / "period.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError) as caught:
        load_period(path)
    message = str(caught.value)
    assert "people_match" in message and "'e_mail'" in message and "display_name" in message


def test_a_review_gap_on_an_ambiguous_account_says_it_is_ambiguous_not_without_identity():
    grants = pd.DataFrame({"system": ["app"], "login": ["sam patel"], "login_original": ["Sam Patel"], "email": [None],
                           "display_name": ["Sam Patel"], "entitlement": ["r"],
                           "granted_at": pd.Series([pd.NaT], dtype="datetime64[ns, UTC]"),
                           "removed_at": pd.Series([pd.NaT], dtype="datetime64[ns, UTC]"), "line": [2]})
    correlated = analytics.correlate_grants(grants, HR, orders={"app": ["display_name"]})
    decisions = pd.DataFrame(columns=["system", "subject_email", "entitlement"])
    gaps = analytics.review_population_gaps(correlated, decisions, HR.assign(hire_date=pd.NaT),
                                            pd.Timestamp("2026-08-14", tz="UTC"), ["app"], "listing")
    [description] = list(gaps["description"])
    assert "ambiguous: sam.patel2@kf.example, sam.patel@kf.example" in description
    assert "no HR identity" not in description
