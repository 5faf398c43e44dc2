"""Attribute sampling for tests of controls: plan the size, select the items, evaluate the result.

The module follows the planning / selection / evaluation split of the R package *jfa* and the
AICPA Audit Guide *Audit Sampling* (attribute sampling for tests of controls):

* **Planning** -- :func:`plan_sample` / :func:`sample_size` give the smallest sample that lets the
  auditor conclude, at the stated confidence, that the population deviation rate is below the
  tolerable deviation rate (TDR) when no more than the acceptance number of deviations is found.
  :func:`frequency_sample_size` and :func:`retest_sample_size` give the *non-statistical* sizes of
  a firm's policy table; :func:`extension_size` sizes a sample extension after deviations.
* **Selection** -- :func:`select` ranks items by SHA-256 of ``"{seed}|{key}"`` so the same
  population, key and seed give the same items on any machine and with any library version
  (:data:`SELECTION_ALGORITHM`); :class:`Selection` records what a verifier needs to re-derive it
  with :func:`reselect`.
* **Evaluation** -- :func:`evaluate` / :func:`upper_deviation_limit` compute the upper deviation
  limit and say whether the results support the planned reliance on the control.

Everything is deterministic: there is no random number generator, only exact arithmetic, SciPy
distribution functions and SHA-256.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from fractions import Fraction
from numbers import Integral, Real
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "DEFAULT_FREQUENCY_POLICY",
    "DEFAULT_RETEST_POLICY",
    "MAX_SAMPLE_SIZE",
    "SELECTION_ALGORITHM",
    "SELECTION_METHODS",
    "SIZING_METHODS",
    "Evaluation",
    "Extension",
    "SamplePlan",
    "SamplingError",
    "Selection",
    "allocate_proportional",
    "combine_selections",
    "evaluate",
    "extension_size",
    "format_evaluation_report",
    "format_size_report",
    "frequency_sample_size",
    "plan_sample",
    "population_fingerprint",
    "reselect",
    "retest_sample_size",
    "round_up_pct",
    "sample_size",
    "select",
    "select_targeted",
    "select_with_record",
    "selection_hash",
    "upper_deviation_limit",
]

#: Version of the selection algorithm; recorded with every selection so a later verifier knows
#: how the sample was derived. Change it whenever the ranking, ordering or hashing changes.
SELECTION_ALGORITHM = "sha256-rank-v1"

#: Distributions used for planning and evaluation.
SIZING_METHODS = ("binomial", "hypergeometric", "poisson")

#: Ways of choosing the items.
SELECTION_METHODS = ("random", "systematic", "stratified")

#: Largest statistical sample searched for when no population size is given. Beyond this the
#: expected rate is too close to the tolerable rate for sampling to be a sensible procedure.
MAX_SAMPLE_SIZE = 1_000_000

#: Common (non-statistical) sample sizes by control frequency and risk of failure. This is firm
#: policy, not a statistical result: pass your firm's own table as ``policy`` where it differs.
DEFAULT_FREQUENCY_POLICY: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "annual": MappingProxyType({"lower": 1, "higher": 1}),
        "quarterly": MappingProxyType({"lower": 2, "higher": 2}),
        "monthly": MappingProxyType({"lower": 2, "higher": 5}),
        "weekly": MappingProxyType({"lower": 5, "higher": 15}),
        "daily": MappingProxyType({"lower": 20, "higher": 40}),
        "multiple_daily": MappingProxyType({"lower": 25, "higher": 60}),
    }
)

#: Common (non-statistical) retest sizes after a control has been remediated, by frequency.
DEFAULT_RETEST_POLICY: Mapping[str, int] = MappingProxyType(
    {"annual": 1, "quarterly": 2, "monthly": 2, "weekly": 5, "daily": 20, "multiple_daily": 25}
)

# Columns that selection adds to the population's own columns.
_ADDED_COLUMNS = (
    "selection_order",
    "selection_basis",
    "selection_hash",
    "selection_stratum",
    "targeted_reason",
)


class SamplingError(ValueError):
    """A sampling input the auditor must correct; the message names the argument or column."""


def _stats() -> Any:
    """``scipy.stats``, imported on first use: importing it costs every notebook kernel's start-up ~0.5 s."""
    from scipy import stats

    return stats


def _duckdb() -> Any:
    """``duckdb``, imported on first use (selection): importing it costs every notebook kernel's start-up ~0.05 s."""
    import duckdb

    return duckdb


#: The process's in-memory DuckDB database for selections, with the process id that opened it (a
#: forked process opens its own), made on the first selection.
_SELECTION_DATABASE: tuple[int, Any] | None = None
_SELECTION_DATABASE_LOCK = threading.Lock()


def _selection_connection() -> duckdb.DuckDBPyConnection:
    """A connection of its own for one selection: a cursor on the process's one in-memory database.

    Opening a new in-memory database costs 30-60 ms on this kind of machine, more than a whole
    selection of a few thousand items; a cursor costs about 1 ms. What a selection registers (its
    ``items``) is a temporary view of its own cursor, gone when the cursor closes, so two
    selections (one after another, or in two threads) never see each other's tables."""
    global _SELECTION_DATABASE
    with _SELECTION_DATABASE_LOCK:
        if _SELECTION_DATABASE is None or _SELECTION_DATABASE[0] != os.getpid():
            _SELECTION_DATABASE = (os.getpid(), _duckdb().connect())
        return _SELECTION_DATABASE[1].cursor()


# ---------------------------------------------------------------------------------------------
# Validating inputs
# ---------------------------------------------------------------------------------------------


def _exact_rate(value: Any, name: str, *, allow_zero: bool = False) -> Fraction:
    """Return a rate as an exact fraction of its decimal text (0.0125 -> 1/80).

    Sizes depend on ceil(n x rate); doing that in binary floating point gives wrong sizes (423
    instead of 400), so rates are converted from their shortest decimal text, as written.
    """
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise SamplingError(f"{name} must be a number between 0 and 1 (e.g. 0.05 for 5 %), got {value!r}")
    try:
        rate = value if isinstance(value, Fraction) else Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise SamplingError(f"{name} must be a finite number between 0 and 1, got {value!r}") from None
    lower_ok = rate >= 0 if allow_zero else rate > 0
    if not (lower_ok and rate < 1):
        bounds = "0 <= {0} < 1" if allow_zero else "0 < {0} < 1"
        raise SamplingError(f"{name} must satisfy {bounds.format(name)} (a rate, e.g. 0.05 for 5 %), got {value!r}")
    return rate


def _whole_number(value: Any, name: str, minimum: int) -> int:
    """Return a count as a Python int, refusing booleans, fractions and counts below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise SamplingError(f"{name} must be a whole number, got {value!r}")
    number = int(value)
    if number < minimum:
        raise SamplingError(f"{name} must be at least {minimum}, got {number}")
    return number


def _choice(value: Any, allowed: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise say which values are allowed."""
    options = tuple(allowed)
    if not isinstance(value, str) or value not in options:
        raise SamplingError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def _optional_population(population_size: Any) -> int | None:
    """Validate an optional population size (number of items or control occurrences)."""
    if population_size is None:
        return None
    return _whole_number(population_size, "population_size", 1)


def _required_population(population_size: int | None, method: str) -> int:
    """The hypergeometric method models a finite population and cannot work without its size."""
    if population_size is None:
        raise SamplingError(
            f"population_size is required for method={method!r}: the hypergeometric distribution "
            "models a finite population, so give the number of items in it"
        )
    return population_size


def _confidence_and_risk(confidence: Any) -> tuple[Fraction, float]:
    """Return the exact confidence and the risk of over-reliance 1 - confidence as a float."""
    level = _exact_rate(confidence, "confidence")
    return level, float(1 - level)


# ---------------------------------------------------------------------------------------------
# The distributions: risk of over-reliance at the tolerable rate
# ---------------------------------------------------------------------------------------------


def _population_deviations(tolerable_rate: Fraction, population_size: int) -> int:
    """K = ceil(TDR x N): the fewest deviations that make the population rate reach the TDR."""
    return math.ceil(tolerable_rate * population_size)


def _acceptance_numbers(n: np.ndarray, expected_rate: Fraction) -> np.ndarray:
    """Acceptance numbers k = ceil(n x EDR) in exact integer arithmetic, for an array of sizes.

    Uses int64 where it cannot overflow and Python integers otherwise (rates with long decimal
    expansions), so the result is exact in every case.
    """
    a, b = expected_rate.numerator, expected_rate.denominator
    if a == 0:
        return np.zeros_like(n)
    if int(n.max()) * a + b < 2**63:
        return (n * a + (b - 1)) // b
    return np.array([-(-int(m) * a // b) for m in n], dtype=np.int64)


def _risk_of_acceptance(
    method: str, k: Any, n: Any, tolerable_rate: Fraction, population_size: int | None
) -> Any:
    """P(X <= k) for a sample of n when the population deviates at exactly the tolerable rate.

    This is the risk of over-reliance: the chance that a control failing at the tolerable rate
    would still pass the test. Works on scalars and numpy arrays.
    """
    if method == "binomial":
        return _stats().binom.cdf(k, n, float(tolerable_rate))
    if method == "poisson":
        return _stats().poisson.cdf(k, np.asarray(n, dtype=float) * float(tolerable_rate))
    deviations = _population_deviations(tolerable_rate, population_size)
    return _stats().hypergeom.cdf(k, population_size, deviations, n)


def _meets_risk(method: str, risk: Any, allowed_risk: float) -> Any:
    """The acceptance criterion: risk below (binomial, Poisson) or at most (hypergeometric) 1 - confidence.

    The strict/non-strict split follows the AICPA tables (binomial) and the usual finite-population
    convention (hypergeometric, where P(X <= k) is a step function of whole deviations).
    """
    return risk <= allowed_risk if method == "hypergeometric" else risk < allowed_risk


def _smallest_n(meets: Callable[[np.ndarray], np.ndarray], upper: int) -> int | None:
    """Smallest n in 1..upper for which ``meets`` is true, scanning vectorised blocks of sizes.

    The criterion is not monotone in n (the acceptance number steps up with n), so every size is
    checked in order; blocks double in width so large answers stay cheap.
    """
    start, width = 1, 1024
    while start <= upper:
        sizes = np.arange(start, min(start + width, upper + 1), dtype=np.int64)
        hits = np.flatnonzero(meets(sizes))
        if hits.size:
            return int(sizes[hits[0]])
        start, width = start + width, width * 2
    return None


def _smallest_monotone_n(meets: Callable[[int], bool], lower: int, upper: int) -> int | None:
    """Smallest n in lower..upper with ``meets(n)``, for a criterion that stays true once true."""
    if not meets(upper):
        return None
    if meets(lower):
        return lower
    low, high = lower, upper  # meets(low) is false, meets(high) is true
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplePlan:
    """A planned sample size with the parameters and reasoning a workpaper needs.

    ``n`` is the number of items to test; ``acceptance_deviations`` the most deviations that still
    support the planned reliance; ``achieved_risk`` the risk of over-reliance at this size,
    P(X <= acceptance number) at the tolerable rate (``None`` for non-statistical plans, 0.0 when
    every item is tested). ``all_items`` is true when the whole population is tested.
    ``expected_deviations`` is set when the plan was made from an allowed number of deviations in
    the sample (the acceptance number fixed in advance, as jfa's ``expected`` >= 1) rather than from
    an expected deviation rate; ``expected_rate`` is then ``None``.
    """

    n: int
    method: str
    statistical: bool
    acceptance_deviations: int
    confidence: float | None = None
    tolerable_rate: float | None = None
    expected_rate: float | None = None
    population_size: int | None = None
    achieved_risk: float | None = None
    all_items: bool = False
    frequency: str | None = None
    risk: str | None = None
    policy_size: int | None = None
    expected_deviations: int | None = None

    def _planned_from(self) -> str:
        """Which way the size was planned: from an expected rate (as ever) or allowing k deviations."""
        if self.expected_deviations is None:
            return f"expected {_pct(self.expected_rate)}"
        return f"allowing {_deviations(self.expected_deviations)} in the sample"

    def rationale(self) -> str:
        """One or two sentences explaining the size, ready to paste into a workpaper."""
        verb = "is" if self.acceptance_deviations == 1 else "are"
        supported = f"the control is supported if no more than {_deviations(self.acceptance_deviations)} {verb} found"
        if self.statistical:
            population = "" if self.population_size is None else f", population {self.population_size:,} items"
            parameters = (
                f"Statistical attribute sample ({self.method}{population}): {_pct(self.confidence)} confidence, "
                f"tolerable deviation rate {_pct(self.tolerable_rate)}, {self._planned_from()}"
            )
            if self.all_items:
                return (
                    f"{parameters} -> all {self.n:,} items in the population are tested, because a sample "
                    f"would need at least as many; {supported} (deviation rate below "
                    f"{_pct(self.tolerable_rate)}; no sampling risk)."
                )
            return f"{parameters} -> {_items(self.n)}; {supported}."
        control = f"a {_frequency_label(self.frequency)} control"
        if self.method == "retest":
            subject = f"Retest after remediation of {control}"
            outcome = "the remediated control is supported if no deviations are found"
        else:
            subject = f"Sample for {control} at {self.risk} risk of failure"
            outcome = "the control is supported if no deviations are found"
        if self.all_items:
            return (
                f"{subject}: all {_items(self.n)} in the period are tested, as the policy size of "
                f"{self.policy_size} is not smaller (non-statistical, firm policy table); {outcome}."
            )
        return f"{subject}: {_items(self.n)} (non-statistical, firm policy table); {outcome}."


def plan_sample(
    confidence: float,
    tolerable_rate: float,
    expected_rate: float = 0.0,
    population_size: int | None = None,
    method: str = "binomial",
    expected_deviations: int | None = None,
) -> SamplePlan:
    """Plan a statistical attribute sample for a test of controls.

    The size is the smallest n for which, with acceptance number k = ceil(n x expected_rate)
    (exact decimal arithmetic), a control failing at the tolerable rate would pass with a risk
    below 1 - confidence:

    * ``"binomial"`` (default, large populations): P(X <= k | n, TDR) < 1 - confidence. This
      reproduces AICPA Audit Sampling Table A-1 exactly.
    * ``"hypergeometric"`` (finite population, ``population_size`` = N required): K = ceil(TDR x N)
      deviating items and P(X <= k | N, K, n) <= 1 - confidence. If even n = N does not satisfy it,
      the plan tests every item.
    * ``"poisson"``: P(X <= k | mean n x TDR) < 1 - confidence, the Poisson approximation to the
      binomial; its sizes are equal to or slightly larger (more conservative) than binomial ones.

    With ``population_size`` given, a size that reaches the population is capped at it: all items
    are tested (no sampling risk), and the control is supported if the deviation rate found is below
    the tolerable rate, i.e. at most ceil(TDR x N) - 1 deviations.

    ``expected_deviations`` = k plans by an allowed number of deviations instead of a rate, as jfa's
    ``planning(expected = k)`` with a whole k >= 1: the acceptance number is k for every size and n is
    the smallest size that meets the same criterion with it (binomial and Poisson strictly below,
    hypergeometric at most 1 - confidence). It cannot be combined with a non-zero ``expected_rate``;
    ``expected_deviations=0`` gives the same plan as ``expected_rate=0``. See :func:`_plan_by_deviations`.
    """
    if expected_deviations is not None:
        return _plan_by_deviations(confidence, tolerable_rate, expected_rate, population_size, method, expected_deviations)
    method = _choice(method, SIZING_METHODS, "method")
    _, allowed_risk = _confidence_and_risk(confidence)
    tdr = _exact_rate(tolerable_rate, "tolerable_rate")
    edr = _exact_rate(expected_rate, "expected_rate", allow_zero=True)
    population = _optional_population(population_size)
    if method == "hypergeometric":
        _required_population(population, method)
    if edr >= tdr:
        raise SamplingError(
            f"expected_rate ({_pct(expected_rate)}) must be below tolerable_rate ({_pct(tolerable_rate)}): "
            "if the auditor expects the control to fail at least as often as can be tolerated, no sample "
            "size can support reliance; plan to rely less on the control (higher tolerable rate) or not at all"
        )

    def meets(sizes: np.ndarray) -> np.ndarray:
        k = _acceptance_numbers(sizes, edr)
        return _meets_risk(method, _risk_of_acceptance(method, k, sizes, tdr, population), allowed_risk)

    n = _smallest_n(meets, population if population is not None else MAX_SAMPLE_SIZE)
    common = dict(
        method=method,
        statistical=True,
        confidence=float(confidence),
        tolerable_rate=float(tolerable_rate),
        expected_rate=float(expected_rate),
        population_size=population,
    )
    return _plan_or_all_items(
        n, population, tdr, method, lambda size: int(_acceptance_numbers(np.array([size]), edr)[0]), common,
        f"no sample of up to {MAX_SAMPLE_SIZE:,} items reaches {_pct(confidence)} confidence: expected_rate "
        f"({_pct(expected_rate)}) is too close to tolerable_rate ({_pct(tolerable_rate)}); lower the "
        "planned reliance, or test the whole population and give population_size")


def _plan_or_all_items(n: int | None, population: int | None, tdr: Any, method: str,
                       acceptance: Callable[[int], int], common: dict[str, Any], no_sample: str) -> SamplePlan:
    """The plan for the smallest sufficient size ``n`` (its acceptance number from ``acceptance``); every
    item when no sample suffices or the size reaches the population; ``no_sample`` as the error when no
    sample suffices and no population size is known."""
    if n is None and population is None:
        raise SamplingError(no_sample)
    if n is None or (population is not None and n >= population):
        return SamplePlan(
            n=population,
            acceptance_deviations=_population_deviations(tdr, population) - 1,
            achieved_risk=0.0,
            all_items=True,
            **common,
        )
    k = acceptance(n)
    risk = float(_risk_of_acceptance(method, k, n, tdr, population))
    return SamplePlan(n=n, acceptance_deviations=k, achieved_risk=risk, **common)


def _plan_by_deviations(
    confidence: Any,
    tolerable_rate: Any,
    expected_rate: Any,
    population_size: Any,
    method: Any,
    expected_deviations: Any,
) -> SamplePlan:
    """Plan with the acceptance number fixed at ``expected_deviations`` (jfa ``planning(expected = k)``).

    jfa (R/planning.R, ``error_type = "integer"``) takes the smallest n whose frequentist upper bound
    with k deviations is below the materiality (here the tolerable rate, TDR):

    * binomial: ``qbeta(conf, 1 + k, n - k) < TDR``, i.e. P(X <= k | n, TDR) < 1 - confidence;
    * Poisson: ``qgamma(conf, 1 + k, n) < TDR``, i.e. P(X <= k | mean n x TDR) < 1 - confidence;
    * hypergeometric: ``.qhyper(conf, N, n, k) / N < TDR``, the largest K with
      P(X <= k | N, K, n) > 1 - conf being below TDR x N, i.e. P(X <= k | N, ceil(TDR x N), n)
      <= 1 - confidence.

    These are the criteria of :func:`_meets_risk`, with k constant. The risk falls as n grows, so the
    first n that meets it is the answer. As for rate plans, a size reaching ``population_size`` (or no
    size at all: the hypergeometric with k >= ceil(TDR x N), which jfa refuses) tests every item, and
    the control is then supported if at most ceil(TDR x N) - 1 deviations are found.
    """
    method = _choice(method, SIZING_METHODS, "method")
    k = _whole_number(expected_deviations, "expected_deviations", 0)
    _, allowed_risk = _confidence_and_risk(confidence)
    tdr = _exact_rate(tolerable_rate, "tolerable_rate")
    if _exact_rate(expected_rate, "expected_rate", allow_zero=True) != 0:
        raise SamplingError(
            f"give expected_rate ({_pct(expected_rate)}) or expected_deviations ({k}), not both: plan either from an "
            "expected deviation rate or from an allowed number of deviations in the sample"
        )
    population = _optional_population(population_size)
    if method == "hypergeometric":
        _required_population(population, method)

    def meets(sizes: np.ndarray) -> np.ndarray:
        return _meets_risk(method, _risk_of_acceptance(method, k, sizes, tdr, population), allowed_risk)

    n = _smallest_n(meets, population if population is not None else MAX_SAMPLE_SIZE)
    common = dict(
        method=method,
        statistical=True,
        confidence=float(confidence),
        tolerable_rate=float(tolerable_rate),
        expected_rate=None,
        population_size=population,
        expected_deviations=k,
    )
    return _plan_or_all_items(
        n, population, tdr, method, lambda size: k, common,
        f"no sample of up to {MAX_SAMPLE_SIZE:,} items reaches {_pct(confidence)} confidence when "
        f"{_deviations(k)} are allowed at a tolerable rate of {_pct(tolerable_rate)}; allow fewer deviations, "
        "or test the whole population and give population_size")


def sample_size(
    confidence: float,
    tolerable_rate: float,
    expected_rate: float = 0.0,
    population_size: int | None = None,
    method: str = "binomial",
    expected_deviations: int | None = None,
) -> int:
    """Number of items to test for a statistical attribute sample; see :func:`plan_sample`.

    Give ``expected_deviations`` = k (a whole number >= 0) instead of a non-zero ``expected_rate`` to
    plan by an allowed number of deviations in the sample (jfa's ``expected`` >= 1).
    """
    return plan_sample(confidence, tolerable_rate, expected_rate, population_size, method, expected_deviations).n


def _policy_entry(policy: Mapping[str, Any], frequency: Any, policy_name: str) -> tuple[str, Any]:
    """Look up a control frequency in a policy table, listing the allowed frequencies if absent.

    Case, surrounding spaces and space/hyphen for underscore are forgiven ("Multiple daily").
    """
    name = frequency.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(frequency, str) else None
    if name not in policy:
        raise SamplingError(
            f"frequency {frequency!r} is not in the {policy_name}; allowed: {', '.join(map(repr, policy))}"
        )
    return name, policy[name]


def _policy_size(value: Any, where: str) -> int:
    """A policy table size must be a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise SamplingError(f"{where} must be a whole number of at least 1, got {value!r}")
    return int(value)


def _non_statistical_plan(
    method: str, size: int, frequency: str, risk: str | None, population_size: int | None
) -> SamplePlan:
    """Build a non-statistical plan, testing every occurrence if there are no more than the size."""
    all_items = population_size is not None and population_size <= size
    return SamplePlan(
        n=population_size if all_items else size,
        method=method,
        statistical=False,
        acceptance_deviations=0,
        population_size=population_size,
        all_items=all_items,
        frequency=frequency,
        risk=risk,
        policy_size=size,
    )


def frequency_sample_size(
    frequency: str,
    risk: str = "lower",
    population_size: int | None = None,
    policy: Mapping[str, Mapping[str, int]] | None = None,
) -> SamplePlan:
    """Non-statistical sample size by control frequency and risk of failure, from a policy table.

    ``policy`` maps frequency -> {"lower": n, "higher": n}; it defaults to
    :data:`DEFAULT_FREQUENCY_POLICY` (annual 1/1, quarterly 2/2, monthly 2/5, weekly 5/15,
    daily 20/40, multiple_daily 25/60). The plan is labelled non-statistical: no confidence level
    or sampling-risk figure is claimed for it. If the period has no more occurrences than the size
    (``population_size``), every occurrence is tested.
    """
    table = DEFAULT_FREQUENCY_POLICY if policy is None else policy
    name, entry = _policy_entry(table, frequency, "frequency policy table")
    if not isinstance(risk, str) or not isinstance(entry, Mapping) or risk not in entry:
        allowed = ", ".join(map(repr, entry)) if isinstance(entry, Mapping) else "(none: malformed policy entry)"
        raise SamplingError(f"risk {risk!r} is not in the policy table for {name!r}; allowed: {allowed}")
    size = _policy_size(entry[risk], f"policy size for {name!r} / {risk!r}")
    return _non_statistical_plan("frequency", size, name, risk, _optional_population(population_size))


def retest_sample_size(
    frequency: str,
    policy: Mapping[str, int] | None = None,
    *,
    population_size: int | None = None,
) -> SamplePlan:
    """Non-statistical retest size after remediation, by control frequency, from a policy table.

    ``policy`` maps frequency -> n and defaults to :data:`DEFAULT_RETEST_POLICY` (annual 1,
    quarterly 2, monthly 2, weekly 5, daily 20, multiple_daily 25). Give ``population_size`` (the
    occurrences since remediation) to test all of them when there are no more than the size.
    """
    table = DEFAULT_RETEST_POLICY if policy is None else policy
    name, entry = _policy_entry(table, frequency, "retest policy table")
    size = _policy_size(entry, f"retest policy size for {name!r}")
    return _non_statistical_plan("retest", size, name, None, _optional_population(population_size))


@dataclass(frozen=True)
class Extension:
    """How far a sample must be extended after deviations were found, if that can help at all.

    ``required_total`` is the total sample (original plus additional items) that supports reliance
    provided no further deviations are found in the additional items; both counts are ``None``
    when an extension is not possible, and ``statement`` says why.
    """

    required_total: int | None
    additional_items: int | None
    possible: bool
    statement: str


def extension_size(
    sample_size: int,
    deviations: int,
    confidence: float,
    tolerable_rate: float,
    method: str = "binomial",
    population_size: int | None = None,
) -> Extension:
    """Size a sample extension: the smallest total n' >= n that supports reliance with the same deviations.

    With d deviations found in n items, n' is the smallest total for which, if the additional
    n' - n items show no further deviation, P(X <= d | n', TDR) < 1 - confidence (binomial; Poisson
    alike; hypergeometric P(X <= d | N, K, n') <= 1 - confidence). An extension is not possible when
    the sample deviation rate d / n already reaches the tolerable rate (the results are evidence that
    the control does not operate as designed), or when n' would exceed ``population_size``.
    """
    method = _choice(method, SIZING_METHODS, "method")
    n, d, population = _sample_counts(sample_size, deviations, population_size, method)
    _, allowed_risk = _confidence_and_risk(confidence)
    tdr = _exact_rate(tolerable_rate, "tolerable_rate")
    found = f"{_deviations(d)} in {_items(n)}"
    if Fraction(d, n) >= tdr:
        return Extension(
            None,
            None,
            False,
            f"Extension not possible: {found} is a sample deviation rate of {_pct(d / n, 2)}, already at or "
            f"above the tolerable rate of {_pct(tolerable_rate)}. More items cannot support reliance; "
            "evaluate the deviations as an exception / control deficiency.",
        )

    def meets(total: int) -> bool:
        return bool(_meets_risk(method, _risk_of_acceptance(method, d, total, tdr, population), allowed_risk))

    upper = population if population is not None else MAX_SAMPLE_SIZE
    required = n if n == population else _smallest_monotone_n(meets, n, upper)
    if required is None:
        limit = f"the population of {population:,} items" if population is not None else f"{MAX_SAMPLE_SIZE:,} items"
        return Extension(
            None,
            None,
            False,
            f"Extension not possible: with {found}, a total sample larger than {limit} would be needed to "
            f"support reliance at {_pct(confidence)} confidence (tolerable rate {_pct(tolerable_rate)}). "
            "Test the whole population or evaluate the deviations as an exception / control deficiency.",
        )
    if required == n:
        return Extension(
            n,
            0,
            True,
            f"No extension needed: {found} already supports reliance at {_pct(confidence)} confidence "
            f"(tolerable rate {_pct(tolerable_rate)}).",
        )
    everything = " (every item in the population)" if required == population else ""
    return Extension(
        required,
        required - n,
        True,
        f"Extend the sample by {_items(required - n)} to {required:,} in total{everything}: if no further "
        f"deviations are found, {_deviations(d)} in {_items(required)} supports reliance at {_pct(confidence)} "
        f"confidence (tolerable rate {_pct(tolerable_rate)}). Any further deviation means the extended "
        "sample does not support reliance.",
    )


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


def _sample_counts(
    sample_size: Any, deviations: Any, population_size: Any, method: str
) -> tuple[int, int, int | None]:
    """Validate n >= 1, 0 <= k <= n and n <= N (N required for the hypergeometric method)."""
    n = _whole_number(sample_size, "sample_size", 1)
    k = _whole_number(deviations, "deviations", 0)
    if k > n:
        raise SamplingError(f"deviations ({k}) cannot exceed sample_size ({n})")
    population = _optional_population(population_size)
    if method == "hypergeometric":
        _required_population(population, method)
    if population is not None and n > population:
        raise SamplingError(f"sample_size ({n:,}) cannot exceed population_size ({population:,})")
    return n, k, population


def _hypergeometric_upper_count(n: int, k: int, allowed_risk: float, population_size: int) -> int:
    """K_U: the largest count of deviating items in [k, N - (n - k)] with P(X <= k | N, K, n) > risk.

    P(X <= k) falls as K grows, so K_U is found by bisection. It is the most deviations the
    population could hold and still have produced k or fewer in the sample with more than the
    allowed risk; consistent with the sizing rule (a plan's size gives K_U < ceil(TDR x N)).
    """
    low, high = k, population_size - (n - k)  # at K = k, P(X <= k) = 1
    hypergeom = _stats().hypergeom

    def plausible(count: int) -> bool:
        return bool(hypergeom.cdf(k, population_size, count, n) > allowed_risk)

    if plausible(high):
        return high
    while high - low > 1:
        middle = (low + high) // 2
        if plausible(middle):
            low = middle
        else:
            high = middle
    return low


def _exact_upper_limit(n: int, k: int, level: Fraction, method: str, population: int | None) -> Fraction | float:
    """The upper deviation limit, as an exact fraction where it is a count over N, else a float."""
    allowed_risk = float(1 - level)
    if population is not None and n == population:
        return Fraction(k, n)  # every item tested: the rate is known, no sampling risk
    if method == "hypergeometric":
        return Fraction(_hypergeometric_upper_count(n, k, allowed_risk, population), population)
    if method == "poisson":
        return min(1.0, float(_stats().gamma.ppf(float(level), k + 1)) / n)
    if k == n:
        return 1.0
    return float(_stats().beta.ppf(float(level), k + 1, n - k))


def upper_deviation_limit(
    sample_size: int,
    deviations: int,
    confidence: float,
    method: str = "binomial",
    population_size: int | None = None,
) -> float:
    """Upper limit on the population deviation rate at the given confidence, from a sample result.

    * binomial (default): the one-sided Clopper-Pearson bound, the beta quantile at ``confidence``
      with (k + 1, n - k); 1.0 when every item deviated. Published tables round it up to 0.1 %.
    * hypergeometric (``population_size`` N required): K_U / N, K_U being the largest number of
      deviating items with P(X <= k | N, K_U, n) > 1 - confidence.
    * poisson: gamma quantile at ``confidence`` with shape k + 1, divided by n (at most 1.0).

    Whatever the method, if ``population_size`` is given and equals the sample size, every item was
    tested and the limit is the deviation rate itself (no sampling risk).
    """
    method = _choice(method, SIZING_METHODS, "method")
    n, k, population = _sample_counts(sample_size, deviations, population_size, method)
    level, _ = _confidence_and_risk(confidence)
    return float(_exact_upper_limit(n, k, level, method, population))


def round_up_pct(x: float, places: int = 1) -> float:
    """A rate rounded *up* to ``places`` decimals of a percent, still as a rate: 0.04951 -> 0.05.

    For display only (``f"{round_up_pct(limit):.1%}"`` shows "5.0%"): published attribute-sampling
    tables round the upper deviation limit up so the figure shown never understates it. Decisions
    use the unrounded limit. Exact decimal arithmetic, so 0.049 stays 0.049.
    """
    rate = Decimal(repr(float(x)))
    return float(rate.quantize(Decimal(1).scaleb(-(places + 2)), rounding=ROUND_CEILING))


@dataclass(frozen=True)
class Evaluation:
    """The result of a test of controls: deviation rates, upper limit and whether reliance is supported."""

    method: str
    sample_size: int
    deviations: int
    confidence: float
    tolerable_rate: float
    population_size: int | None
    sample_deviation_rate: float
    upper_deviation_limit: float
    allowance_for_sampling_risk: float
    supports_reliance: bool

    def _shown(self, rate: float) -> str:
        """A rate rounded up to 0.1 %, or to more places where 0.1 % would show a supporting limit
        as equal to the tolerable rate (e.g. 4.9508 % shown as 4.96 %, not 5.0 %)."""
        places = next(
            (places for places in range(1, 7)
             if not self.supports_reliance
             or Decimal(repr(round_up_pct(self.upper_deviation_limit, places))) < Decimal(repr(self.tolerable_rate))),
            6,
        )
        return f"{round_up_pct(rate, places) * 100:.{places}f} %"

    @property
    def all_items_tested(self) -> bool:
        """True when the sample is the whole population (no sampling risk)."""
        return self.population_size is not None and self.sample_size == self.population_size

    def conclusion(self) -> str:
        """The evaluation in workpaper language: limit against tolerable rate, and what it means."""
        found = f"{_deviations(self.deviations)} in {_items(self.sample_size)}"
        limit = self._shown(self.upper_deviation_limit)
        tolerable = _pct(self.tolerable_rate)
        if self.all_items_tested:
            basis = (
                f"All {self.sample_size:,} items in the population were tested ({_deviations(self.deviations)} found), "
                f"so there is no sampling risk; the deviation rate of {limit}"
            )
        else:
            basis = (
                f"The upper deviation limit of {limit} ({found}, {_pct(self.confidence)} confidence, "
                f"{self.method})"
            )
        if self.supports_reliance:
            return (
                f"{basis} is below the tolerable deviation rate of {tolerable}; "
                "the results support the planned reliance on the control."
            )
        # a population tested in full leaves nothing to extend the sample with
        remedies = ("consider compensating controls." if self.all_items_tested
                    else "consider compensating controls (or, where appropriate, a sample extension).")
        return (
            f"{basis} is not below the tolerable deviation rate of {tolerable}; the results do not support the planned "
            f"reliance on the control. Report the deviations as an exception, evaluate the control deficiency, and "
            f"{remedies}"
        )

    def as_rows(self) -> list[tuple[str, str]]:
        """(label, display value) pairs for the evaluation table of a workpaper; values are text."""
        population = "not given (large population)" if self.population_size is None else f"{self.population_size:,} items"
        return [
            ("Evaluation method", f"Statistical attribute sample ({self.method})"),
            ("Population size", population),
            ("Sample size", f"{self.sample_size:,}"),
            ("Deviations found", f"{self.deviations:,}"),
            ("Sample deviation rate", _pct(self.sample_deviation_rate, 1)),
            (f"Upper deviation limit ({_pct(self.confidence)} confidence)", self._shown(self.upper_deviation_limit)),
            ("Allowance for sampling risk", self._shown(max(self.allowance_for_sampling_risk, 0.0))),
            ("Tolerable deviation rate", _pct(self.tolerable_rate)),
            ("Supports reliance", "Yes" if self.supports_reliance else "No"),
        ]


def evaluate(
    sample_size: int,
    deviations: int,
    confidence: float,
    tolerable_rate: float,
    method: str = "binomial",
    population_size: int | None = None,
) -> Evaluation:
    """Evaluate a test of controls: reliance is supported when the upper deviation limit is below the TDR.

    The comparison is strict and made on the unrounded limit (exactly, where the limit is a count
    over N). See :func:`upper_deviation_limit` for the limit of each method.
    """
    method = _choice(method, SIZING_METHODS, "method")
    n, k, population = _sample_counts(sample_size, deviations, population_size, method)
    level, _ = _confidence_and_risk(confidence)
    tdr = _exact_rate(tolerable_rate, "tolerable_rate")
    limit = _exact_upper_limit(n, k, level, method, population)
    rate = k / n
    return Evaluation(
        method=method,
        sample_size=n,
        deviations=k,
        confidence=float(confidence),
        tolerable_rate=float(tolerable_rate),
        population_size=population,
        sample_deviation_rate=rate,
        upper_deviation_limit=float(limit),
        allowance_for_sampling_risk=float(limit) - rate,
        supports_reliance=bool(limit < tdr),
    )


# ---------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------


def selection_hash(seed: int | str, key_value: int | str) -> str:
    """SHA-256 hex digest of the UTF-8 text ``"{seed}|{key_value}"``: the rank of an item.

    This is the reference definition of the ranking; selection computes the same digests with
    hashlib for a population of up to ``IN_PROCESS_ITEMS`` items and in DuckDB for a larger one.
    Items with the smallest digests are selected first.
    """
    return hashlib.sha256(f"{seed}|{key_value}".encode()).hexdigest()


def _seed_text(seed: Any) -> str:
    """The seed as it enters the hash; a whole number or a non-empty text, recorded with the sample."""
    if seed is None:
        raise SamplingError(
            "seed is required: choose one and record it in the period's parameters so the sample can be re-derived"
        )
    if isinstance(seed, bool) or not isinstance(seed, Integral | str) or (isinstance(seed, str) and not seed.strip()):
        raise SamplingError(f"seed must be a whole number or a non-empty text, got {seed!r}")
    return str(int(seed)) if isinstance(seed, Integral) else seed


def _column_text(population: pd.DataFrame, column: Any, role: str) -> pa.Array:
    """The values of a key or stratum column as UTF-8 text (whole numbers in decimal), validated.

    Only text and whole numbers are accepted, because their text form is unambiguous on every
    machine; decimals, dates and mixed columns must be converted explicitly by the caller.
    Missing or empty values are refused, naming the first rows concerned.
    """
    if not isinstance(column, str) or column not in population.columns:
        present = ", ".join(map(repr, list(population.columns)[:20]))
        raise SamplingError(f"{role} column {column!r} is not in the population; columns present: {present}")
    if list(population.columns).count(column) > 1:
        raise SamplingError(f"the population has more than one column named {column!r}; rename them")
    series = population[column]
    unsupported = SamplingError(
        f"{role} column {column!r} must hold text or whole numbers (it holds {series.dtype}); "
        "convert it explicitly before sampling so its text form is unambiguous"
    )
    if pd.api.types.is_bool_dtype(series.dtype):
        raise unsupported
    if not (pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        raise unsupported  # is_string_dtype is also true for object columns; their contents are checked below
    try:
        values = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        raise SamplingError(f"{role} column {column!r} mixes text and numbers or holds other objects; use one type") from None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not (pa.types.is_integer(values.type) or pa.types.is_string(values.type)
            or pa.types.is_large_string(values.type) or pa.types.is_null(values.type)):
        raise unsupported
    text = values.cast(pa.large_string())
    missing = pc.or_kleene(pc.is_null(text), pc.equal(pc.utf8_length(text), 0))
    missing = pc.fill_null(missing, True)
    if pc.any(missing).as_py():
        rows = pc.indices_nonzero(missing).to_numpy()
        labels = ", ".join(str(population.index[i]) for i in rows[:5])
        raise SamplingError(
            f"{role} column {column!r} has {len(rows):,} empty value(s), e.g. at rows {labels}; every item needs a {role}"
        )
    return text


def _check_unique_keys(connection: duckdb.DuckDBPyConnection, key: str) -> None:
    """Keys identify items; a duplicated key would make the ranking and re-derivation ambiguous.

    Fast path: sort DuckDB's 64-bit hashes of the keys (equal keys have equal hashes); only if
    two hashes are equal are the keys themselves grouped, to tell duplicates from a collision.
    """
    hashes = np.sort(connection.sql("SELECT hash(k) AS h FROM items").to_arrow_table()["h"].to_numpy())
    if not np.any(hashes[1:] == hashes[:-1]):
        return
    duplicates = connection.sql(
        "SELECT k, count(*) - 1 AS extra FROM items GROUP BY k HAVING count(*) > 1 ORDER BY k"
    ).fetchall()
    if duplicates:
        listed = ", ".join(repr(value) for value, _ in duplicates[:5])
        extra = sum(count for _, count in duplicates)
        raise SamplingError(
            f"key column {key!r} has {extra:,} duplicated value(s), e.g. {listed}; each item must have a unique key"
        )


def _ranked(connection: duckdb.DuckDBPyConnection, prefix: str, n: int) -> tuple[np.ndarray, list[str]]:
    """Row positions and digests of the n items with the smallest SHA-256 of prefix || key."""
    result = connection.sql(
        "SELECT pos, sha256($prefix || k) AS h FROM items ORDER BY h, k LIMIT $n",
        params={"prefix": prefix, "n": n},
    ).to_arrow_table()
    return result["pos"].to_numpy(), result["h"].to_pylist()


def _digests_at(connection: duckdb.DuckDBPyConnection, prefix: str, positions: np.ndarray) -> list[str]:
    """SHA-256 of prefix || key for the items at the given row positions, in that order."""
    wanted = pa.table({"pos": pa.array(positions, pa.int64()), "ord": pa.array(np.arange(len(positions)), pa.int64())})
    connection.register("wanted", wanted)
    result = connection.sql(
        "SELECT sha256($prefix || k) AS h FROM wanted JOIN items USING (pos) ORDER BY ord",
        params={"prefix": prefix},
    ).to_arrow_table()
    return result["h"].to_pylist()


#: Populations of up to this many items are ranked in this process with ``hashlib`` (the reference
#: definition, :func:`selection_hash`), larger ones by DuckDB: for a few thousand items, opening a
#: DuckDB database and registering the items costs ten times the hashing (measured on the demo
#: period: about 25-40 ms a selection against 1-3 ms), while DuckDB's parallel hashing wins on
#: hundreds of thousands. Both give the same items, digests and order (the tests hold them to it).
IN_PROCESS_ITEMS = 20_000


def _digest(text: str) -> str:
    """SHA-256 hex digest of a text's UTF-8 bytes (what DuckDB's ``sha256`` gives)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _refuse_repeated_keys(keys: list[str], key: str) -> None:
    """:func:`_check_unique_keys` for keys held in this process: the same refusal, in the same words."""
    if len(set(keys)) == len(keys):
        return
    duplicates = sorted((value, count - 1) for value, count in Counter(keys).items() if count > 1)
    listed = ", ".join(repr(value) for value, _ in duplicates[:5])
    extra = sum(count for _, count in duplicates)
    raise SamplingError(
        f"key column {key!r} has {extra:,} duplicated value(s), e.g. {listed}; each item must have a unique key"
    )


def _ranked_in_process(keys: list[str], prefix: str, n: int) -> tuple[np.ndarray, list[str]]:
    """:func:`_ranked` for keys held in this process: positions and digests of the n items with the
    smallest SHA-256 of prefix || key (then the smallest key, as DuckDB's ``ORDER BY h, k``)."""
    ranked = heapq.nsmallest(n, ((_digest(prefix + k), k, position) for position, k in enumerate(keys)))
    return np.array([position for _, _, position in ranked], dtype=np.int64), [digest for digest, _, _ in ranked]


def _stratified_in_process(
    keys: list[str], strata_values: list[str], strata: str, allocation: Any, n: int, seed: str
) -> tuple[np.ndarray, list[str], list[str], str, dict[str, int]]:
    """:func:`_stratified` for keys held in this process: within each stratum (in name order) the
    items with the smallest SHA-256 of "{seed}|{stratum}|{key}", as many as the allocation gives it."""
    rule, counts = _resolve_allocation(allocation, dict(Counter(strata_values)), n, strata)
    members: dict[str, list[tuple[str, int]]] = {}
    for position, (k, stratum) in enumerate(zip(keys, strata_values)):
        if counts.get(stratum, 0) > 0:
            members.setdefault(stratum, []).append((k, position))
    positions: list[int] = []
    digests: list[str] = []
    labels: list[str] = []
    for stratum in sorted(name for name, quota in counts.items() if quota > 0):
        prefix = f"{seed}|{stratum}|"
        ranked = heapq.nsmallest(counts[stratum], ((_digest(prefix + k), k, position)
                                                   for k, position in members.get(stratum, [])))
        positions += [position for _, _, position in ranked]
        digests += [digest for digest, _, _ in ranked]
        labels += [stratum] * len(ranked)
    return np.array(positions, dtype=np.int64), digests, labels, rule, counts


def _systematic_positions(order: np.ndarray, n: int, seed: str) -> np.ndarray:
    """Every (N/n)-th item of the key-sorted population from a seeded start in [0, N/n).

    The start is u / 2**64 of the interval, u being the first 16 hex digits of
    SHA-256("{seed}|systematic-start"); positions floor(start + i x N / n) use exact integers.
    """
    size = len(order)
    u = int(hashlib.sha256(f"{seed}|systematic-start".encode()).hexdigest()[:16], 16)
    scale = 2**64
    picks = [((u + i * scale) * size) // (n * scale) for i in range(n)]
    return order[np.asarray(picks, dtype=np.int64)]


def allocate_proportional(stratum_sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Split n items over strata in proportion to their sizes (largest-remainder method).

    Each stratum first gets floor(n x N_h / N); the items left go to the largest remainders, ties
    broken by stratum name. When n is at least the number of non-empty strata, every non-empty
    stratum gets at least one item, taken from the stratum most above its exact quota. Returns
    counts by stratum in name order; no count exceeds its stratum.
    """
    sizes = {str(name): _whole_number(count, f"size of stratum {name!r}", 0) for name, count in stratum_sizes.items()}
    total = sum(sizes.values())
    n = _whole_number(n, "n", 0)
    if n > total:
        raise SamplingError(f"n ({n:,}) exceeds the {total:,} items in the strata")
    names = sorted(sizes)
    counts = {name: n * sizes[name] // total if total else 0 for name in names}
    leftover = n - sum(counts.values())
    by_remainder = sorted(names, key=lambda name: (-(n * sizes[name] % total) if total else 0, name))
    for name in by_remainder[:leftover]:
        counts[name] += 1
    non_empty = [name for name in names if sizes[name] > 0]
    if n >= len(non_empty):
        for name in [name for name in non_empty if counts[name] == 0]:
            donor = min(
                (other for other in names if counts[other] >= 2),
                key=lambda other: (n * sizes[other] - counts[other] * total, other),
            )
            counts[donor] -= 1
            counts[name] = 1
    return counts


def _resolve_allocation(
    allocation: Any, stratum_sizes: Mapping[str, int], n: int, strata: str
) -> tuple[str, dict[str, int]]:
    """Turn ``allocation`` ("proportional" or stratum -> n) into counts per stratum, checked against sizes."""
    if allocation is None or allocation == "proportional":
        return "proportional", allocate_proportional(stratum_sizes, n)
    if not isinstance(allocation, Mapping):
        raise SamplingError(f"allocation must be 'proportional' or a mapping of stratum -> items, got {allocation!r}")
    counts = {str(name): _whole_number(count, f"allocation for stratum {name!r}", 0) for name, count in allocation.items()}
    unknown = sorted(set(counts) - set(stratum_sizes))
    if unknown:
        raise SamplingError(f"allocation names strata not in column {strata!r}: {', '.join(map(repr, unknown[:5]))}")
    missing = sorted(set(stratum_sizes) - set(counts))
    if missing:
        raise SamplingError(
            f"allocation leaves out strata of column {strata!r}: {', '.join(map(repr, missing[:5]))}; "
            "give every stratum a count (0 to leave it out deliberately)"
        )
    for name, count in counts.items():
        if count > stratum_sizes[name]:
            raise SamplingError(
                f"allocation asks for {count:,} items from stratum {name!r} of column {strata!r}, "
                f"which holds only {stratum_sizes[name]:,}"
            )
    if sum(counts.values()) != n:
        raise SamplingError(f"allocation adds up to {sum(counts.values()):,} items but n is {n:,}")
    return "specified", dict(sorted(counts.items()))


@dataclass(frozen=True)
class Selection:
    """What a verifier needs to re-derive a sample: method, seed, key, algorithm and fingerprints.

    ``population_fingerprint`` is :func:`population_fingerprint` of the population sampled;
    ``sample_fingerprint`` the SHA-256 of the selected keys in selection order, each followed by
    a newline. ``allocation`` holds the resolved (stratum, items) counts of a stratified sample.
    """

    algorithm: str
    method: str
    seed: int | str
    key: str
    n: int
    population_size: int
    population_fingerprint: str
    sample_fingerprint: str
    strata: str | None = None
    allocation_rule: str | None = None
    allocation: tuple[tuple[str, int], ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for the run manifest."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["allocation"] = None if self.allocation is None else {name: count for name, count in self.allocation}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        """Rebuild a record from :meth:`to_dict` output (e.g. read back from a manifest)."""
        fields = dict(data)
        if fields.get("allocation") is not None:
            fields["allocation"] = tuple((str(name), int(count)) for name, count in fields["allocation"].items())
        try:
            return cls(**fields)
        except TypeError as error:
            raise SamplingError(f"selection record is incomplete or has unknown fields: {error}") from None


def _key_lines_digest(text: pa.Array) -> str:
    """SHA-256 of the keys' UTF-8 text, each followed by a newline, in the given order."""
    lines = pc.binary_join_element_wise(text, pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string()))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    data = lines.buffers()[2]
    digest = hashlib.sha256()
    if data is not None:
        digest.update(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
    return digest.hexdigest()


def population_fingerprint(population: pd.DataFrame, key: str) -> str:
    """SHA-256 of the population's keys sorted by Unicode code point, each followed by a newline.

    Equal to ``hashlib.sha256("".join(k + "\\n" for k in sorted(keys)).encode())`` with keys as
    text: independent of row order, and changed by any added, removed or altered key.
    """
    text = _column_text(population, key, "key")
    return _key_lines_digest(text.take(pc.sort_indices(text)))


def _draw(
    population: pd.DataFrame,
    n: Any,
    method: Any,
    seed: Any,
    key: Any,
    strata: Any,
    allocation: Any,
) -> tuple[pd.DataFrame, pa.Array, dict[str, Any]]:
    """Select the items; return the sample, the key text, and the facts a record needs."""
    if not isinstance(population, pd.DataFrame):
        raise SamplingError(f"population must be a pandas DataFrame, got {type(population).__name__}")
    method = _choice(method, SELECTION_METHODS, "method")
    seed_text = _seed_text(seed)
    if key is None:
        raise SamplingError("key is required: name the column that identifies each item (e.g. 'grant_id')")
    if len(population) == 0:
        raise SamplingError("the population is empty: there is nothing to sample (check the population's completeness)")
    clashes = [column for column in _ADDED_COLUMNS if column in population.columns]
    if clashes:
        listed = ", ".join(map(repr, clashes))
        raise SamplingError(f"the population already has column(s) {listed}, which selection adds; rename them")
    if method != "stratified" and (strata is not None or allocation is not None):
        raise SamplingError("strata and allocation apply only to method='stratified'")
    if method == "stratified" and strata is None:
        raise SamplingError("strata is required for method='stratified': name the column that holds each item's stratum")
    text = _column_text(population, key, "key")
    size = len(text)
    n = _whole_number(n, "n", 1)
    if n > size:
        raise SamplingError(f"n ({n:,}) exceeds the population of {size:,} items; to test every item use n = {size:,}")
    facts: dict[str, Any] = {
        "method": method,
        "seed": seed if isinstance(seed, str) else int(seed),
        "key": key,
        "n": n,
        "population_size": size,
    }
    items = {"pos": pa.array(np.arange(size, dtype=np.int64)), "k": text}
    if method == "stratified":
        items["s"] = _column_text(population, strata, "strata")
    stratum_labels = None
    if size <= IN_PROCESS_ITEMS:
        keys = text.to_pylist()
        _refuse_repeated_keys(keys, key)
        if method == "random":
            positions, digests = _ranked_in_process(keys, f"{seed_text}|", n)
        elif method == "systematic":
            order = pc.sort_indices(pa.array(population[key], from_pandas=True)).to_numpy()
            positions = _systematic_positions(order, n, seed_text)
            digests = [_digest(f"{seed_text}|{keys[position]}") for position in positions]
        else:
            positions, digests, stratum_labels, rule, counts = _stratified_in_process(
                keys, items["s"].to_pylist(), strata, allocation, n, seed_text)
            facts.update(strata=strata, allocation_rule=rule, allocation=tuple(counts.items()))
        return _drawn(population, positions, digests, stratum_labels, key, n, text, facts)
    with _selection_connection() as connection:
        connection.register("items", pa.table(items))
        _check_unique_keys(connection, key)
        if method == "random":
            positions, digests = _ranked(connection, f"{seed_text}|", n)
        elif method == "systematic":
            order = pc.sort_indices(pa.array(population[key], from_pandas=True)).to_numpy()
            positions = _systematic_positions(order, n, seed_text)
            digests = _digests_at(connection, f"{seed_text}|", positions)
        else:
            positions, digests, stratum_labels, rule, counts = _stratified(connection, strata, allocation, n, seed_text)
            facts.update(strata=strata, allocation_rule=rule, allocation=tuple(counts.items()))
    return _drawn(population, positions, digests, stratum_labels, key, n, text, facts)


def _drawn(population: pd.DataFrame, positions: np.ndarray, digests: list[str], stratum_labels: list[str] | None,
           key: str, n: int, text: pa.Array, facts: dict[str, Any]) -> tuple[pd.DataFrame, pa.Array, dict[str, Any]]:
    """The selected rows in selection order with their selection columns, their key text, the facts."""
    sample = population.iloc[positions].reset_index(drop=True)
    sample["selection_order"] = np.arange(1, n + 1, dtype=np.int64)
    sample["selection_basis"] = "statistical"
    if stratum_labels is not None:
        sample["selection_stratum"] = stratum_labels
    sample["selection_hash"] = digests
    sample.attrs["selection_key"] = key
    return sample, text.take(pa.array(positions, pa.int64())), facts


def _stratified(
    connection: duckdb.DuckDBPyConnection, strata: str, allocation: Any, n: int, seed: str
) -> tuple[np.ndarray, list[str], list[str], str, dict[str, int]]:
    """Random selection within each stratum, ranked by SHA-256 of "{seed}|{stratum}|{key}".

    Returns positions, digests and stratum labels ordered by stratum name then rank, with the
    allocation rule and the counts per stratum.
    """
    sizes = dict(connection.sql("SELECT s, count(*) FROM items GROUP BY s").fetchall())
    rule, counts = _resolve_allocation(allocation, sizes, n, strata)
    quotas = pa.table({"s": pa.array(list(counts), pa.large_string()), "quota": pa.array(list(counts.values()), pa.int64())})
    connection.register("quotas", quotas)
    result = connection.sql(
        """
        WITH hashed AS (SELECT pos, s, k, sha256($prefix || s || '|' || k) AS h FROM items)
        SELECT hashed.pos, hashed.s, hashed.h,
               row_number() OVER (PARTITION BY hashed.s ORDER BY hashed.h, hashed.k) AS rank
        FROM hashed JOIN quotas ON quotas.s = hashed.s
        QUALIFY rank <= quotas.quota
        ORDER BY hashed.s, rank
        """,
        params={"prefix": f"{seed}|"},
    ).to_arrow_table()
    return result["pos"].to_numpy(), result["h"].to_pylist(), result["s"].to_pylist(), rule, counts


def select(
    population: pd.DataFrame,
    n: int,
    method: str = "random",
    seed: int | str | None = None,
    key: str | None = None,
    strata: str | None = None,
    allocation: str | Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Select n items reproducibly: the same population, key and seed give the same items anywhere.

    Every item is ranked by SHA-256 of ``"{seed}|{key value}"`` (see :func:`selection_hash`),
    which depends on neither row order nor library versions:

    * ``"random"``: the n items with the smallest digests;
    * ``"systematic"``: the population sorted by key (numbers numerically, text by code point),
      interval N / n, a start in [0, N / n) derived from SHA-256 of ``"{seed}|systematic-start"``,
      items at floor(start + i x N / n);
    * ``"stratified"``: ``strata`` names the stratum column; ``allocation`` is "proportional"
      (default, see :func:`allocate_proportional`) or stratum -> items (every stratum listed,
      adding up to n); within a stratum the items with the smallest SHA-256 of
      ``"{seed}|{stratum}|{key}"`` are taken.

    ``seed`` and ``key`` are required. Keys must be unique, non-empty text or whole numbers.
    Returns the selected rows with all their columns plus ``selection_order`` (1..n),
    ``selection_basis`` ("statistical"), ``selection_stratum`` (stratified only) and
    ``selection_hash``, sorted by selection order with a fresh index.
    """
    sample, _, _ = _draw(population, n, method, seed, key, strata, allocation)
    return sample


def select_with_record(
    population: pd.DataFrame,
    n: int,
    method: str = "random",
    seed: int | str | None = None,
    key: str | None = None,
    strata: str | None = None,
    allocation: str | Mapping[str, int] | None = None,
) -> tuple[pd.DataFrame, Selection]:
    """:func:`select`, plus the :class:`Selection` record to keep in the manifest for verification."""
    sample, selected_text, facts = _draw(population, n, method, seed, key, strata, allocation)
    record = Selection(
        algorithm=SELECTION_ALGORITHM,
        population_fingerprint=population_fingerprint(population, key),
        sample_fingerprint=_key_lines_digest(selected_text),
        **facts,
    )
    return sample, record


def reselect(population: pd.DataFrame, record: Selection) -> pd.DataFrame:
    """Re-derive a recorded sample, refusing if the algorithm, population or resulting sample differ."""
    if record.algorithm != SELECTION_ALGORITHM:
        raise SamplingError(
            f"the sample was drawn with algorithm {record.algorithm!r}; this version implements {SELECTION_ALGORITHM!r}"
        )
    if len(population) != record.population_size:
        raise SamplingError(
            f"the population has {len(population):,} items but the recorded sample was drawn from {record.population_size:,}"
        )
    if population_fingerprint(population, record.key) != record.population_fingerprint:
        raise SamplingError(
            f"the population's keys (column {record.key!r}) differ from those recorded (population fingerprint mismatch)"
        )
    allocation = None if record.allocation is None else dict(record.allocation)
    sample, selected_text, _ = _draw(
        population, record.n, record.method, record.seed, record.key, record.strata, allocation
    )
    if _key_lines_digest(selected_text) != record.sample_fingerprint:
        raise SamplingError("re-derived sample differs from the recorded one (sample fingerprint mismatch)")
    return sample


def select_targeted(population: pd.DataFrame, keys: Iterable[int | str], key: str, reason: str) -> pd.DataFrame:
    """Items chosen by the auditor's judgement (e.g. high-risk accounts), kept apart from the statistical sample.

    Returns the rows for ``keys`` in the order given (repeats dropped) with
    ``selection_basis = "targeted"`` and ``targeted_reason``. Targeted items are not part of the
    statistical evaluation: evaluate their deviations separately, without projecting them.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise SamplingError("reason is required for targeted items: state why they were selected")
    if len(population) == 0:
        raise SamplingError("the population is empty: there is nothing to select")
    if isinstance(keys, str | bytes) or not isinstance(keys, Iterable):
        raise SamplingError(f"keys must be a list of values from key column {key!r}, got {keys!r}")
    text = _column_text(population, key, "key")
    wanted = list(dict.fromkeys(str(value) for value in keys))
    found = pc.index_in(pa.array(wanted, pa.large_string()), value_set=text)
    missing = [value for value, position in zip(wanted, found.to_pylist()) if position is None]
    if missing:
        raise SamplingError(
            f"{len(missing):,} targeted key(s) not found in key column {key!r}, e.g. {', '.join(map(repr, missing[:5]))}"
        )
    if len(text) <= IN_PROCESS_ITEMS:
        _refuse_repeated_keys(text.to_pylist(), key)
    else:
        with _selection_connection() as connection:
            connection.register("items", pa.table({"k": text}))
            _check_unique_keys(connection, key)
    positions = np.asarray(found.to_pylist(), dtype=np.int64)
    chosen = population.iloc[positions].reset_index(drop=True)
    chosen["selection_basis"] = "targeted"
    chosen["targeted_reason"] = reason
    chosen.attrs["selection_key"] = key
    return chosen


def combine_selections(statistical: pd.DataFrame, targeted: pd.DataFrame, key: str | None = None) -> pd.DataFrame:
    """One list of items to test: the statistical sample in order, then targeted items not in it.

    An item in both keeps its statistical order and digest, with basis "statistical+targeted" and
    the targeted reason. Targeted-only items have no selection order or digest. ``key`` defaults
    to the key column that :func:`select` / :func:`select_targeted` recorded on their results.
    """
    if key is None:
        recorded = {frame.attrs.get("selection_key") for frame in (statistical, targeted)} - {None}
        if len(recorded) != 1:
            raise SamplingError("key is required: name the key column shared by the statistical and targeted selections")
        key = recorded.pop()
    for name, frame, needed in (
        ("statistical", statistical, ("selection_order", "selection_basis")),
        ("targeted", targeted, ("selection_basis", "targeted_reason")),
    ):
        absent = [column for column in (key, *needed) if column not in frame.columns]
        if absent:
            raise SamplingError(f"column(s) {', '.join(map(repr, absent))} missing from the {name} selection")
    targeted_keys = targeted[key].astype(str)
    reasons = dict(zip(targeted_keys, targeted["targeted_reason"]))
    combined = statistical.copy()
    statistical_keys = combined[key].astype(str)
    both = statistical_keys.isin(reasons)
    combined["targeted_reason"] = statistical_keys.map(reasons).where(both, None)
    combined.loc[both, "selection_basis"] = "statistical+targeted"
    extra = targeted[~targeted_keys.isin(set(statistical_keys))]
    result = pd.concat([combined, extra], ignore_index=True)
    result["selection_order"] = result["selection_order"].astype("Int64")
    result.attrs["selection_key"] = key
    return result


# ---------------------------------------------------------------------------------------------
# Text for workpapers and the command line
# ---------------------------------------------------------------------------------------------


def _pct(rate: Any, places: int | None = None) -> str:
    """A rate as a percentage with a % sign: exact as written (0.0125 -> "1.25 %") or to ``places``."""
    percent = Decimal(repr(float(rate))) * 100
    if places is not None:
        percent = percent.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    elif percent.as_tuple().exponent < -4:
        percent = percent.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    if places is None:
        percent = percent.normalize()
    return f"{percent:f} %"


def _items(count: int) -> str:
    """'1 item' / '59 items'."""
    return f"{count:,} item" if count == 1 else f"{count:,} items"


def _deviations(count: int) -> str:
    """'1 deviation' / '0 deviations'."""
    return f"{count:,} deviation" if count == 1 else f"{count:,} deviations"


def _frequency_label(frequency: str | None) -> str:
    """Policy frequency names as words ('multiple_daily' -> 'multiple daily')."""
    return (frequency or "").replace("_", " ")


def format_size_report(plan: SamplePlan) -> str:
    """Multi-line text for ``workbench size``: the size, its basis and parameters, and the rationale."""
    lines = [f"Sample size: {_items(plan.n)}" + (" (all items in the population)" if plan.all_items else "")]
    if plan.statistical:
        lines += [
            f"Basis: statistical attribute sample ({plan.method})",
            f"Confidence: {_pct(plan.confidence)}",
            f"Tolerable deviation rate: {_pct(plan.tolerable_rate)}",
            (
                f"Expected deviation rate: {_pct(plan.expected_rate)}"
                if plan.expected_deviations is None
                else f"Planned from: an allowed number of deviations in the sample ({plan.expected_deviations:,}), "
                "not an expected deviation rate"
            ),
            "Population: " + ("not given (large population)" if plan.population_size is None else _items(plan.population_size)),
            f"Acceptance number: {_deviations(plan.acceptance_deviations)}",
            f"Risk of over-reliance at this size: {_pct(plan.achieved_risk, 2)}",
        ]
    else:
        title = "retest after remediation" if plan.method == "retest" else f"{plan.risk} risk of failure"
        lines += [
            "Basis: non-statistical, firm policy table (no confidence level is claimed)",
            f"Control frequency: {_frequency_label(plan.frequency)} ({title})",
            "Population: " + ("not given" if plan.population_size is None else _items(plan.population_size)),
            "Acceptance number: 0 deviations",
        ]
    lines.append(f"Rationale: {plan.rationale()}")
    return "\n".join(lines)


def format_evaluation_report(ev: Evaluation) -> str:
    """Multi-line text for ``workbench evaluate``: the evaluation table and the conclusion."""
    width = max(len(label) for label, _ in ev.as_rows())
    lines = [f"{label + ':':<{width + 1}} {value}" for label, value in ev.as_rows()]
    lines.append(f"Conclusion: {ev.conclusion()}")
    return "\n".join(lines)
