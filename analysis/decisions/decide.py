"""Decisions: the store actions' effects under every candidate model, the customer bootstrap of the whole
procedure, the test of each action, the offers, what an action is worth and the offer plan.

Why each piece is here:

* **Robust to the model.** Every action's average marginal effect (AME) and its scenario among all high-risk
  customers are computed under every interpretable candidate (:func:`effects_by_model`): a decision that holds
  under one model form only is not a decision.
* **Honest intervals.** The changes come from a procedure: the penalty weight of the GAM chosen by AIC (or a
  specification search). The delta method holds it fixed. The customer bootstrap (:func:`bootstrap_procedure`)
  redoes it on every resample of the customers and gives the headline's intervals (the recalibration map
  decides who is at risk, not the size of a change: :data:`EFFECT_SCALE`); the delta-method SE stays beside it. The intervals are conditional on the model's form
  (the choice among the candidates is not redone: the range across models shows what it matters) and on the
  knots of the splines (placed once on all customers). The estimands are the store's own customers: each
  replicate's refitted model is evaluated on the original customers, as the delta method does.
* **A price.** :func:`action_value`: profit retained per treated customer over the horizon, i.e. the break-even
  cost of treating one customer (and of one contact), with the bootstrap interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.settings import FULL
from analysis.decisions import actions
from analysis.decisions.actions import ASSUMED_ACTIONS, ENGAGEMENT, HORIZON_MONTHS, LEVER_BY_NAME, STORE_ACTIONS
from analysis.data.dictionary import TARGET
from analysis.modeling.features import PREDICTORS
from stats.bootstrap import (
    bootstrap_interval,
    replicate_rng,
    resample,
    summarise_replicates,
)

#: Where the effects of an action come from. Levels (who is at risk, expected declines, profit at risk) are the
#: business model's calibrated probabilities; *changes* (AMEs, scenarios, customers kept, each offer's risk drop)
#: are the inference model's predicted changes (one quantity: the offer plan adds up the scenarios' per-customer
#: changes). The recalibration map is
#: fitted on out-of-fold scores, which are noisier than the full-data fit's: carried into a change of a customer's
#: score it attenuates the change (on the simulated exports of `python -m analysis.bench.coverage` the map's changes
#: came out too small and their intervals undercovered; the inference model's are unbiased when its form holds).
EFFECT_SCALE = "inference"
#: The kind of bootstrap interval of every business figure (stats.bootstrap.bootstrap_interval). ``normal``
#: (estimate ± z·bootstrap SD): on the simulated exports (`make bench BENCH_ARGS="--only coverage"`) the bootstrap
#: SD matches the spread of the errors, and the percentile interval, which also carries the draws' skew and shift,
#: covered less often than the normal one where the model's form holds.
BOOTSTRAP_INTERVAL = "normal"
#: The group whose scenarios are the headline: every high-risk customer.
HEADLINE_GROUP = "high_risk_all"
#: Relative step of the AMEs' central differences (× the variable's SD), as stats.link_margins.
AME_STEP = 1e-4

EFFECT_COLUMNS = ["model", "role", "tied", "action", "kind", "quantity", "group", "n_customers", "estimate",
                  "std_error", "conf_low", "conf_high", "interval"]
VALUE_COLUMNS = ["action", "n_treated", "contacts_per_customer", "effect", "effect_conf_low", "effect_conf_high",
                 "customers_kept", "customers_kept_low", "customers_kept_high", "profit_retained_month",
                 "profit_retained_month_low", "profit_retained_month_high", "horizon_months",
                 "break_even_per_customer", "break_even_per_customer_low", "break_even_per_customer_high",
                 "break_even_per_contact", "break_even_per_contact_low", "break_even_per_contact_high",
                 "offered", "recommended"]
PLAN_COLUMNS = ["offer", "n_customers", "expected_declines", "profit_at_risk_upper", "customers_kept",
                "customers_kept_low", "customers_kept_high", "profit_retained_upper", "profit_retained_upper_low",
                "profit_retained_upper_high", "share_of_declines_avoided", "share_of_profit_at_risk_retained"]


# ---------------------------------------------------------------------------------------------------------
# Effects under every candidate model (delta method, conditional on each fitted model)
# ---------------------------------------------------------------------------------------------------------
def effects_by_model(links: dict[str, tuple[object, str, bool]], frame: pd.DataFrame, group: np.ndarray,
                     reference: dict, levers=STORE_ACTIONS + ASSUMED_ACTIONS, conf_level: float = 0.95,
                     bootstrap_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each lever's AME and its scenario in ``group`` under every model of ``links``.

    Parameters
    ----------
    links
        ``name -> (LinkModel, role, tied)``.
    bootstrap_rows
        Optional rows in :data:`EFFECT_COLUMNS` (the business model's bootstrap intervals) appended as they are.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EFFECT_COLUMNS`: ``quantity`` ``ame`` (per unit of the lever's column, over all customers)
        or ``scenario`` (the lever's change among the group's customers with room); ``interval`` ``delta``
        (conditional on that fitted model) or ``bootstrap``.
    """
    from stats.link_margins import average_marginal_effects

    rows = []
    columns = list(dict.fromkeys(lever.column for lever in levers))
    for name, (link, role, tied) in links.items():
        ame = average_marginal_effects(link, frame, numeric=columns, conf_level=conf_level).set_index("variable")
        scen = actions.scenarios(frame, link, {HEADLINE_GROUP: group}, reference, levers=levers,
                                 conf_level=conf_level).set_index("action")
        for lever in levers:
            a = ame.loc[lever.column]
            rows.append({"model": name, "role": role, "tied": tied, "action": lever.name, "kind": lever.kind,
                         "quantity": "ame", "group": "all", "n_customers": len(frame), "estimate": a["estimate"],
                         "std_error": a["std_error"], "conf_low": a["conf_low"], "conf_high": a["conf_high"],
                         "interval": "delta"})
            s = scen.loc[lever.name]
            rows.append({"model": name, "role": role, "tied": tied, "action": lever.name, "kind": lever.kind,
                         "quantity": "scenario", "group": HEADLINE_GROUP, "n_customers": int(s["n_with_room"]),
                         "estimate": s["effect"], "std_error": s["std_error"], "conf_low": s["conf_low"],
                         "conf_high": s["conf_high"], "interval": "delta"})
    table = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    if bootstrap_rows is not None and len(bootstrap_rows):
        table = pd.concat([table, bootstrap_rows[EFFECT_COLUMNS]], ignore_index=True)
    return table


# ---------------------------------------------------------------------------------------------------------
# The customer bootstrap of the whole procedure
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Frames:
    """The frames every replicate is evaluated on (keys ``base``, ``cf:<lever>``, ``up:<col>``, ``down:<col>``),
    with each lever's room and each AME's step."""

    keys: list[str]
    frames: dict[str, pd.DataFrame]
    room: dict[str, np.ndarray]
    steps: dict[str, float]


def evaluation_frames(frame: pd.DataFrame, reference: dict, levers=STORE_ACTIONS + ASSUMED_ACTIONS) -> Frames:
    frames, room, steps = {"base": frame}, {}, {}
    for lever in levers:
        counterfactual, has_room, _ = actions.apply_action(frame, lever, reference)
        frames[f"cf:{lever.name}"] = counterfactual
        room[lever.name] = has_room
    for column in dict.fromkeys(lever.column for lever in levers):
        x = frame[column].to_numpy(dtype=float)
        h = AME_STEP * (float(np.std(x)) or 1.0)
        steps[column] = h
        up, down = frame.copy(), frame.copy()
        up[column], down[column] = x + h, x - h
        frames[f"up:{column}"], frames[f"down:{column}"] = up, down
    return Frames(list(frames), frames, room, steps)


@dataclass
class StatisticPlan:
    """What every replicate computes from its probabilities (all arrays over the original customers)."""

    keys: list[str]
    groups: dict[str, np.ndarray]
    room: dict[str, np.ndarray]
    steps: dict[str, float]
    profit: np.ndarray
    scenario_levers: list[str]
    ame_columns: list[str]
    drop_levers: list[str]


def statistics(plan: StatisticPlan, p_inf: np.ndarray) -> tuple[dict, dict]:
    """Scalars (AMEs, scenario effects, customers kept, profit retained per group and lever) and each
    customer's risk drop per store action, from the inference model's probabilities on the
    plan's frames (``p_inf[k]`` for ``plan.keys[k]``): the changes are the inference model's
    (:data:`EFFECT_SCALE`), so no recalibration map enters."""
    index = {key: k for k, key in enumerate(plan.keys)}

    def business(key):
        return p_inf[index[key]]

    base = business("base")
    scalars = {}
    for column in plan.ame_columns:
        scalars[f"ame:{column}"] = float(np.mean(business(f"up:{column}") - business(f"down:{column}"))
                                         / (2 * plan.steps[column]))
    for name in plan.scenario_levers:
        diff = business(f"cf:{name}") - base
        for group, mask in plan.groups.items():
            m = mask & plan.room[name]
            if not m.any():
                continue
            d = diff[m]
            scalars[f"effect:{group}:{name}"] = float(d.mean())
            scalars[f"kept:{group}:{name}"] = float(-d.sum())
            scalars[f"profit:{group}:{name}"] = float(-(plan.profit[m] * d).sum())
    drops = {}
    for name in plan.drop_levers:
        # each customer's risk drop: the change of the same probabilities as the scenarios (EFFECT_SCALE), so
        # the offer plan's customers kept add up to the scenario's over the same customers
        drops[name] = np.where(plan.room[name], base - business(f"cf:{name}"), 0.0)
    return scalars, drops


@dataclass
class BootstrapTask:
    """Everything a replicate of the fast path needs (arrays are shared with the workers)."""

    X: np.ndarray                  # training design of the inference model (the base frame's rows)
    y: np.ndarray
    penalty: np.ndarray | None     # scaled GAM penalty, or None for an unpenalised logit
    alphas: tuple
    designs: np.ndarray            # (n_keys, n, k): the inference design of every evaluation frame
    plan: StatisticPlan
    # the generic path (an estimator refitted from scratch: a specification search, a floor link)
    estimator: object | None = None
    frames_X: list | None = None   # the evaluation frames' predictor columns, in the order of plan.keys
    X_frame: object | None = None  # the training rows' predictor columns
    starts: dict | None = None     # the full-data solution at each weight: where a replicate's Newton runs start


#: Newton's stopping rule in the bootstrap: the largest step below this (the error after it is of its square).
BOOTSTRAP_TOL = 1e-8


def _fit(X, y, penalty, alphas, starts=None, fits=None, near=None):
    """One fit of the procedure's coefficients: the unpenalised logit, or the GAM with its weight by AIC over the
    grid (``near``: by the local search along the grid started at that weight, :func:`stats.gam.search_weight`).
    Plain Newton first; damped Newton (step halving, least squares on a singular Hessian) only when that fails."""
    from stats.gam import choose_weight, fit_penalized_logit, search_weight

    def run(damped):
        if penalty is None:
            zero = np.zeros((X.shape[1], X.shape[1]))
            start = None if starts is None else starts.get(0.0)
            fit = fit_penalized_logit(X, y, zero, damped=damped, start=start, tol=BOOTSTRAP_TOL)
            if fits is not None:
                fits[0.0] = fit["params"]
            return np.nan, fit
        if near is not None:
            return search_weight(X, y, penalty, alphas, first=near, damped=damped, starts=starts, fits=fits,
                                 tol=BOOTSTRAP_TOL)
        return choose_weight(X, y, penalty, alphas, damped=damped, starts=starts, fits=fits, tol=BOOTSTRAP_TOL)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            alpha, fit = run(False)
            if fit["converged"] and np.all(np.isfinite(fit["params"])):
                return alpha, fit
        except np.linalg.LinAlgError:
            pass
        return run(True)


def _generic_replicate(task: BootstrapTask, seed: int, b: int) -> tuple[dict, dict, float, bool]:
    """A replicate of an estimator refitted from scratch (its specification search or its floor included)."""
    from sklearn.base import clone

    rng = replicate_rng(seed, b)
    X, y = task.X_frame, task.y
    for _ in range(100):
        idx = resample(len(y), rng)
        Xb, yb = X.iloc[idx].reset_index(drop=True), y[idx]
        # every category level present (the fitted model knows them all)
        if all(Xb[c].nunique() == X[c].nunique() for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])):
            break
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        fitted = clone(task.estimator).fit(Xb, yb)
        p_inf = np.stack([fitted.predict_proba(f)[:, 1] for f in task.frames_X])
        info = fitted.cv_info() if hasattr(fitted, "cv_info") else None
        converged = bool(info.get("converged", True)) if isinstance(info, dict) else True
    scalars, drops = statistics(task.plan, p_inf)
    return scalars, drops, np.nan, converged


def _one_replicate(task: BootstrapTask, seed: int, b: int) -> tuple[dict, dict, float, bool]:
    from threadpoolctl import threadpool_limits

    if task.estimator is not None:
        with threadpool_limits(limits=1):
            return _generic_replicate(task, seed, b)
    with threadpool_limits(limits=1):
        rng = replicate_rng(seed, b)
        # a resample in which a design column is all zero (a category level not drawn) identifies no coefficient
        # for it: such a resample is drawn again from the replicate's own stream (the bootstrap is conditional on
        # every level being present, as the fitted model is)
        for _ in range(100):
            idx = resample(len(task.y), rng)
            Xb, yb = task.X[idx], task.y[idx]
            if np.all(np.abs(Xb).max(axis=0) > 0):
                break
        else:
            raise RuntimeError(f"bootstrap replicate {b}: 100 resamples in a row lack a category level")
        alpha, fit = _fit(Xb, yb, task.penalty, task.alphas, starts=task.starts)
        p_inf = expit(task.designs @ fit["params"])
        scalars, drops = statistics(task.plan, p_inf)
        return scalars, drops, alpha, bool(fit["converged"])


@dataclass
class BootstrapResult:
    estimates: pd.Series                       # statistic -> value on the original data
    replicates: pd.DataFrame                   # one row per replicate
    drops: dict[str, np.ndarray]               # lever -> (B, n) per-customer risk drops
    drops_estimate: dict[str, np.ndarray]
    info: pd.DataFrame = field(default_factory=pd.DataFrame)  # per replicate: alpha, map, converged
    conf_level: float = 0.95
    method: str = BOOTSTRAP_INTERVAL

    def summary(self) -> pd.DataFrame:
        return summarise_replicates(self.estimates, self.replicates, self.conf_level, self.method)

    def interval(self, estimate: float, draws) -> tuple[float, float]:
        return bootstrap_interval(estimate, draws, self.conf_level, self.method)


def _stacked_designs(design, frames: Frames) -> np.ndarray:
    """``(n_keys, n, k)``: the design of every evaluation frame, built in one call (a design call costs more than
    its rows)."""
    n = len(frames.frames["base"])
    X = np.asarray(design(pd.concat([frames.frames[key] for key in frames.keys], ignore_index=True)), dtype=float)
    return X.reshape(len(frames.keys), n, X.shape[1])


def bootstrap_task(pair, frames: Frames, plan: StatisticPlan, y: np.ndarray,
                   generic: bool = False) -> BootstrapTask:
    """What every replicate needs. The fast path: the inference model is linear in a design whose basis is fixed
    (the GAM, the all-linear and the cluster-promotion logits), so a replicate refits only the coefficients (and
    the GAM's weight) on resampled rows of one design matrix. The generic path (the selected logit, which
    re-searches its specification, the floor logit, or ``generic=True``): the candidate estimator refitted from
    scratch on each resample."""
    from analysis.modeling.pair import FORMULA_LOGITS

    code = pair.inference_code
    if generic:
        pass
    elif code == "gam_engagement":
        est = pair.estimator
        X, penalty, alphas = est.design_matrix_, est.penalty_, tuple(est.alphas)
        designs = _stacked_designs(est.design, frames)
    elif code in FORMULA_LOGITS and code != "logit_selected":
        designs = _stacked_designs(pair.inference.design, frames)
        X, penalty, alphas = designs[0], None, ()
    if generic or code not in ("gam_engagement", *(c for c in FORMULA_LOGITS if c != "logit_selected")):
        # the generic path: the candidate estimator refitted on each resample (its specification search, its
        # floor), evaluated on the frames through its own predict_proba
        from analysis.modeling.benchmark import candidate_models

        base = frames.frames["base"]
        # text columns as Python objects, as the benchmark gives them to the estimators
        object_columns = {c: object for c in PREDICTORS if pd.api.types.is_string_dtype(base[c].dtype)}
        frames_X = [frames.frames[key][list(PREDICTORS)].astype(object_columns) for key in frames.keys]
        return BootstrapTask(X=np.empty((0, 0)), y=np.asarray(y, dtype=float), penalty=None, alphas=(),
                             designs=np.empty((0, 0, 0)), plan=plan, estimator=candidate_models()[code][0],
                             frames_X=frames_X, X_frame=frames_X[0])
    X, y = np.ascontiguousarray(X), np.asarray(y, dtype=float)
    # the full-data solution at every weight: a resample's optimum lies near it, so its Newton runs start there
    # (the optimum is unique: the start changes the steps, not the result)
    starts: dict = {}
    _fit(X, y, penalty, alphas, fits=starts)
    return BootstrapTask(X=X, y=y, penalty=penalty, alphas=alphas, designs=np.ascontiguousarray(designs),
                         plan=plan, starts=starts)


def bootstrap_procedure(task: BootstrapTask, pair, seed: int, n_boot: int, n_jobs: int = 1,
                        conf_level: float = 0.95) -> BootstrapResult:
    """Refit the procedure behind the changes (coefficients, the GAM's weight by AIC, any specification search) on
    ``n_boot`` customer resamples and compute every statistic of the plan on the original customers. Replicate ``b`` draws from ``SeedSequence([seed, b])``: the result does not
    depend on ``n_jobs``."""
    from joblib import Parallel, delayed

    if task.estimator is not None:
        p0 = np.stack([pair.inference.predict(f) for f in task.frames_X])
    else:
        params = (pair.estimator.params_ if pair.inference_code == "gam_engagement"
                  else np.asarray(pair.inference.params))
        p0 = expit(task.designs @ params)
    estimates, drops0 = statistics(task.plan, p0)
    outputs = Parallel(n_jobs=n_jobs)(delayed(_one_replicate)(task, seed, b) for b in range(n_boot))
    names = list(estimates)
    replicates = pd.DataFrame([[out[0].get(k, np.nan) for k in names] for out in outputs], columns=names)
    drops = {name: np.stack([out[1][name] for out in outputs]) for name in drops0} if outputs else {}
    # the map's columns stay in the results contract (bootstrap_replicates.csv), empty: no replicate refits a map
    nan = np.full(n_boot, np.nan)
    info = pd.DataFrame({"replicate": np.arange(n_boot), "alpha": [out[2] for out in outputs],
                         "floor": nan, "ceiling": nan, "slope": nan, "shift": nan,
                         "converged": [out[3] for out in outputs]})
    return BootstrapResult(pd.Series(estimates, dtype=float), replicates, drops, drops0, info, conf_level)


# ---------------------------------------------------------------------------------------------------------
# Tables from the bootstrap
# ---------------------------------------------------------------------------------------------------------
def bootstrap_columns(scenario_table: pd.DataFrame, boot: BootstrapResult) -> pd.DataFrame:
    """Scenario rows with the bootstrap's SD and intervals (:data:`BOOTSTRAP_INTERVAL`) (``interval`` = ``bootstrap``); the delta
    SE stays in ``std_error_delta``. Rows the bootstrap did not cover keep their delta intervals."""
    summary = boot.summary()
    out = scenario_table.copy()
    for i, row in out.iterrows():
        key = f"{row['group']}:{row['action']}"
        if f"effect:{key}" not in summary.index:
            continue
        e, k, p = summary.loc[f"effect:{key}"], summary.loc[f"kept:{key}"], summary.loc[f"profit:{key}"]
        out.loc[i, ["std_error", "conf_low", "conf_high"]] = [e["std_error"], e["conf_low"], e["conf_high"]]
        out.loc[i, ["customers_kept_low", "customers_kept_high"]] = [k["conf_low"], k["conf_high"]]
        out.loc[i, ["profit_retained_upper_low", "profit_retained_upper_high"]] = [p["conf_low"], p["conf_high"]]
        out.loc[i, "interval"] = "bootstrap"
    return out


def bootstrap_ames(boot: BootstrapResult, delta_ames: pd.DataFrame, columns) -> pd.DataFrame:
    """``variable, estimate, std_error, conf_low, conf_high, std_error_delta`` of the business model's AMEs."""
    summary = boot.summary()
    delta = delta_ames.set_index("variable")
    rows = []
    for column in columns:
        s = summary.loc[f"ame:{column}"]
        rows.append({"variable": column, "estimate": s["estimate"], "std_error": s["std_error"],
                     "conf_low": s["conf_low"], "conf_high": s["conf_high"],
                     "std_error_delta": float(delta.loc[column, "std_error"])})
    return pd.DataFrame(rows)


def action_value(scenario_table: pd.DataFrame, boot: BootstrapResult, recommended: list[str],
                 offered: list[str] = (), group: str = HEADLINE_GROUP,
                 horizon_months: int = HORIZON_MONTHS) -> pd.DataFrame:
    """What each store action is worth per treated customer: the break-even cost.

    The treated customers are the group's customers with room. ``profit_retained_month`` is the upper-bound
    monthly profit retained over all of them; ``break_even_per_customer`` = profit retained per treated customer
    per month × ``horizon_months`` (the decline is measured over the next three months): a treatment that costs
    less per customer pays, on the model's prediction; it is an upper bound, as the profit retained is (a
    declining customer is assumed to lose the store all their monthly profit for the whole horizon).
    ``break_even_per_contact`` divides by the contacts the action implies. Intervals are the bootstrap's.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`VALUE_COLUMNS`, one row per store action.
    """
    rows = []
    scen = scenario_table[scenario_table["group"] == group].set_index("action")
    for lever in STORE_ACTIONS:
        key = f"{group}:{lever.name}"
        n = int(scen.loc[lever.name, "n_with_room"])
        row = {"action": lever.name, "n_treated": n, "contacts_per_customer": lever.contacts,
               "horizon_months": horizon_months, "offered": lever.name in offered,
               "recommended": lever.name in recommended}
        if n == 0 or f"effect:{key}" not in boot.estimates.index:
            rows.append(row)
            continue
        effect = boot.estimates[f"effect:{key}"]
        kept, profit = boot.estimates[f"kept:{key}"], boot.estimates[f"profit:{key}"]
        reps = boot.replicates
        per_customer = horizon_months * reps[f"profit:{key}"] / n
        est_per_customer = horizon_months * profit / n

        e_lo, e_hi = boot.interval(effect, reps[f"effect:{key}"])
        k_lo, k_hi = boot.interval(kept, reps[f"kept:{key}"])
        p_lo, p_hi = boot.interval(profit, reps[f"profit:{key}"])
        c_lo, c_hi = boot.interval(est_per_customer, per_customer)
        row.update({
            "effect": effect, "effect_conf_low": e_lo, "effect_conf_high": e_hi,
            "customers_kept": kept, "customers_kept_low": k_lo, "customers_kept_high": k_hi,
            "profit_retained_month": profit, "profit_retained_month_low": p_lo, "profit_retained_month_high": p_hi,
            "break_even_per_customer": est_per_customer,
            "break_even_per_customer_low": c_lo, "break_even_per_customer_high": c_hi,
            "break_even_per_contact": est_per_customer / lever.contacts,
            "break_even_per_contact_low": c_lo / lever.contacts,
            "break_even_per_contact_high": c_hi / lever.contacts,
        })
        rows.append(row)
    return pd.DataFrame(rows, columns=VALUE_COLUMNS)


def offer_plan(offers: pd.DataFrame, boot: BootstrapResult, risk_threshold: float) -> pd.DataFrame:
    """The offer plan's expected customers kept and profit retained, with bootstrap intervals, beside what is at
    risk among the high-risk customers.

    One row per offered action, one ``personal_contact`` row (no action has room), and a ``total`` row over all
    high-risk customers. ``expected_declines`` = Σ P(decline) and ``profit_at_risk_upper`` = Σ P × profit of the
    row's customers; ``customers_kept`` = Σ risk drop and ``profit_retained_upper`` = Σ profit × risk drop per
    month (upper bound), each drop the inference model's change (:data:`EFFECT_SCALE`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PLAN_COLUMNS`.
    """
    high = offers["p_decline"].to_numpy(float) >= risk_threshold
    p = offers["p_decline"].to_numpy(float)
    profit = offers["profit"].to_numpy(float)
    n_boot = len(boot.replicates)
    rows = []
    groups = [(name, high & (offers["offer"].to_numpy() == name)) for name in offers.loc[high, "offer"].unique()]
    groups = sorted(groups, key=lambda g: (g[0] == "personal_contact", g[0])) + [("total", high)]
    for name, mask in groups:
        kept_draws = np.zeros(n_boot)
        profit_draws = np.zeros(n_boot)
        drop = offers.loc[mask, "risk_drop"].to_numpy(float)
        kept = float(drop.sum())
        retained = float((profit[mask] * drop).sum())
        for lever, draws in boot.drops.items():
            chosen = mask & (offers["offer"].to_numpy() == lever)
            kept_draws += draws[:, chosen].sum(axis=1)
            profit_draws += draws[:, chosen] @ profit[chosen]
        at_risk = float((p[mask] * profit[mask]).sum())
        declines = float(p[mask].sum())
        k_lo, k_hi = boot.interval(kept, kept_draws) if n_boot else (np.nan, np.nan)
        p_lo, p_hi = boot.interval(retained, profit_draws) if n_boot else (np.nan, np.nan)
        rows.append({"offer": name, "n_customers": int(mask.sum()), "expected_declines": declines,
                     "profit_at_risk_upper": at_risk, "customers_kept": kept,
                     "customers_kept_low": k_lo, "customers_kept_high": k_hi,
                     "profit_retained_upper": retained,
                     "profit_retained_upper_low": p_lo, "profit_retained_upper_high": p_hi,
                     "share_of_declines_avoided": kept / declines if declines else np.nan,
                     "share_of_profit_at_risk_retained": retained / at_risk if at_risk else np.nan})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


# ---------------------------------------------------------------------------------------------------------
# The whole decision stage
# ---------------------------------------------------------------------------------------------------------
@dataclass
class DecisionResult:
    allowed_levers: list[str]
    reference: dict
    tables: dict[str, pd.DataFrame]


@dataclass
class RunningBootstrap:
    """The bootstrap of the business procedure running on the workers (:func:`start_bootstrap`)."""

    frames: Frames
    plan: StatisticPlan
    future: object
    pool: object

    def result(self) -> BootstrapResult:
        try:
            return self.future.result()
        finally:
            self.pool.shutdown()


def start_bootstrap(pair, frame: pd.DataFrame, groups: dict[str, np.ndarray], seed: int,
                    n_boot: int = FULL.n_bootstrap, n_jobs: int = 1, conf_level: float = 0.95) -> RunningBootstrap:
    """Start :func:`bootstrap_procedure` of the business model in a background thread that drives the workers,
    so that the calling process can compute what does not need it meanwhile (the results do not depend on it:
    every replicate has its own seed)."""
    from concurrent.futures import ThreadPoolExecutor

    reference = actions.support_reference(frame)
    levers = STORE_ACTIONS + ASSUMED_ACTIONS
    frames = evaluation_frames(frame, reference, levers)
    plan = StatisticPlan(keys=frames.keys, groups=groups, room=frames.room, steps=frames.steps,
                         profit=frame["profit"].to_numpy(dtype=float),
                         scenario_levers=[lever.name for lever in levers],
                         ame_columns=list(dict.fromkeys(lever.column for lever in levers)),
                         drop_levers=[lever.name for lever in STORE_ACTIONS])
    task = bootstrap_task(pair, frames, plan, frame[TARGET].to_numpy())
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(bootstrap_procedure, task, pair, seed=seed, n_boot=n_boot, n_jobs=n_jobs,
                         conf_level=conf_level)
    return RunningBootstrap(frames, plan, future, pool)


def decide(pair, frame: pd.DataFrame, formula: str, candidates: pd.DataFrame, groups: dict[str, np.ndarray],
           p_label: np.ndarray, thresholds, seed: int, n_boot: int = FULL.n_bootstrap, n_jobs: int = 1,
           conf_level: float = FULL.conf_level, alpha: float = FULL.alpha,
           running: RunningBootstrap | None = None) -> DecisionResult:
    """Effects by model, the bootstrap, the action tests, scenarios, recommendations, offers, value and plan.

    Parameters
    ----------
    pair : analysis.modeling.pair.ModelPair
    candidates : the ``model_candidates`` table (``tied`` from the tie rule).
    groups : the scenario groups of :func:`analysis.segments.segment_analysis`.
    p_label : the business model's out-of-fold risk of every customer.
    running : the bootstrap already started by :func:`start_bootstrap` with the same arguments (else it is
        started here).
    """
    from analysis.modeling.pair import link_model
    from analysis.modeling.effects import change_std_error
    from analysis.modeling.benchmark import INTERPRETABLE
    from stats.link_margins import average_marginal_effects

    reference = actions.support_reference(frame)
    levers = STORE_ACTIONS + ASSUMED_ACTIONS
    tied = set(candidates.loc[candidates["tied"].astype(bool), "model"])

    # every interpretable candidate, and the business model when it is a recalibrated version
    links = {}
    for code in INTERPRETABLE:
        link = pair.inference if code == pair.inference_code else link_model(code, frame, formula)[0]
        links[code] = (link, "inference" if code == pair.inference_code else "candidate", code in tied)
    if pair.business_code != pair.inference_code:
        links[pair.business_code] = (pair.business, "business", False)
    else:
        links[pair.business_code] = (pair.business, "inference and business", pair.business_code in tied)

    # the bootstrap of the business procedure runs on the workers while this process computes every model's
    # delta-method effects and the scenarios
    if running is None:
        running = start_bootstrap(pair, frame, groups, seed, n_boot, n_jobs, conf_level)
    frames = running.frames
    by_model = effects_by_model(links, frame, groups[HEADLINE_GROUP], reference, levers, conf_level)
    effect_model = pair.inference  # EFFECT_SCALE
    delta_ames = average_marginal_effects(effect_model, frame, numeric=[lv.column for lv in levers],
                                          conf_level=conf_level)
    store_delta = actions.scenarios(frame, effect_model, groups, reference, STORE_ACTIONS, conf_level)
    assumed_delta = actions.scenarios(frame, effect_model, groups, reference, ASSUMED_ACTIONS, conf_level)
    engagement = actions.scenarios(frame, effect_model, {HEADLINE_GROUP: groups[HEADLINE_GROUP]}, reference,
                                   ENGAGEMENT, conf_level)
    boot = running.result()
    summary = boot.summary()

    # the effect model's (the inference model's) bootstrap rows beside the delta-method rows of every model
    business = pair.inference_code
    boot_rows = []
    for lever in levers:
        for quantity, key, group, n in (
                ("ame", f"ame:{lever.column}", "all", len(frame)),
                ("scenario", f"effect:{HEADLINE_GROUP}:{lever.name}", HEADLINE_GROUP,
                 int((groups[HEADLINE_GROUP] & frames.room[lever.name]).sum()))):
            if key not in summary.index:
                continue
            s = summary.loc[key]
            boot_rows.append({"model": business, "role": links[business][1], "tied": links[business][2],
                              "action": lever.name, "kind": lever.kind, "quantity": quantity, "group": group,
                              "n_customers": n, "estimate": s["estimate"], "std_error": s["std_error"],
                              "conf_low": s["conf_low"], "conf_high": s["conf_high"], "interval": "bootstrap"})
    if boot_rows:
        by_model = pd.concat([by_model, pd.DataFrame(boot_rows)[EFFECT_COLUMNS]], ignore_index=True)

    # one test per store action; robustness over the tied candidates
    ames = bootstrap_ames(boot, delta_ames, [lv.column for lv in levers])
    tied_ames = by_model[(by_model["quantity"] == "ame") & by_model["tied"].astype(bool)
                         & (by_model["interval"] == "delta")].rename(columns={"action": "lever"})
    tied_ames = tied_ames.assign(variable=tied_ames["lever"].map(lambda a: LEVER_BY_NAME[a].column))
    tests = actions.action_tests(ames, tied_ames[["model", "variable", "conf_low", "conf_high"]], alpha=alpha)
    recommended = list(tests.loc[tests["recommended"], "action"])
    offered = list(tests.loc[tests["offered"], "action"])

    # scenarios: store actions, assumption-based actions (own table), engagement associations
    store = bootstrap_columns(store_delta, boot)
    assumed = bootstrap_columns(assumed_delta, boot)
    engagement = engagement[["group", "action", "n_with_room", "n_without_support", "decline_rate_baseline",
                             "decline_rate_scenario", "effect", "conf_low", "conf_high"]].rename(
        columns={"action": "outcome"})
    recs = actions.recommendations(store, offered)

    # offers: the store actions the business model supports (offered; a roll-out only when also robust), each
    # drop with its delta-method interval
    predict = pair.inference.predict  # a drop is the inference model's change (EFFECT_SCALE)
    drop_se = change_std_error(pair.inference)
    offers = actions.customer_offers(frame, predict, p_label, thresholds, offered, reference, drop_se=drop_se,
                                     conf_level=conf_level)
    value = action_value(store, boot, recommended, offered)
    plan_table = offer_plan(offers, boot, thresholds.risk)
    return DecisionResult(allowed_levers=offered, reference=reference, tables={
        "effects_by_model": by_model, "scenarios": store, "assumption_scenarios": assumed,
        "action_effects": pd.concat([store, assumed], ignore_index=True),
        "engagement_associations": engagement, "action_tests": tests, "recommendations": recs,
        "allowed_levers": pd.DataFrame({"action": offered}), "offers": offers, "action_value": value,
        "offer_plan": plan_table, "bootstrap_replicates": boot.info,
    })


DEPLOYED_COLUMNS = ["id", "p_oof", "p_deployed", "segment", "offer", "risk_drop", "risk_drop_conf_low",
                    "risk_drop_conf_high"]


def deployed_predictions(pair, frame: pd.DataFrame, p_oof: np.ndarray, thresholds, allowed: list[str],
                         reference: dict, conf_level: float = 0.95) -> pd.DataFrame:
    """What the deployed model (the business model fitted on all customers, as the model file holds it) says about
    the training customers: its probability beside the out-of-fold one, and the segment, offer and risk drop it
    implies, computed in memory. ``score`` on the training export must give these from the model file alone. A
    risk drop is the inference model's change (EFFECT_SCALE).

    The run's own lists (``offers.csv``, the segments) use ``p_oof``: a training customer's in-sample probability
    is fitted to their own outcome, so it would overstate how well the model separates them.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DEPLOYED_COLUMNS`.
    """
    from analysis.modeling.effects import change_std_error

    p = pair.business.predict(frame)
    offers = actions.customer_offers(frame, pair.inference.predict, p, thresholds, allowed,
                                     reference, drop_se=change_std_error(pair.inference),
                                     conf_level=conf_level)
    offers.insert(1, "p_oof", np.asarray(p_oof, dtype=float))
    return offers.rename(columns={"p_decline": "p_deployed"})[DEPLOYED_COLUMNS]
