"""Coverage of the headline intervals on exports simulated from a known process (``make bench`` row "coverage").

Each replicate export is :func:`analysis.data.synthetic.customer_table` (a known logit process; the promotional share
is bimodal, like the store's: a cluster of "promo hunters" at 89–99 %). On it the business procedure of the real
run is repeated as the run does it: the logistic GAM of the engagement variables (penalty weight by AIC), the
floor-and-ceiling map fitted on its out-of-fold probabilities (5 stratified folds) to label the high-risk group;
then :func:`analysis.decisions.decide.bootstrap_procedure` gives the intervals of the headline effects, which are the
GAM's changes (:data:`analysis.decisions.decide.EFFECT_SCALE`; the map decides who is in the group, not the size of a
change). The truth of each effect is computed from the true probabilities of the same customers (the estimands
are conditional on the export's customers, as the intervals are):

* ``ame:marketing_6m`` and ``ame:marketing_current``: ``(1/n) Σ_i ∂p_true/∂x`` (central differences);
* ``effect:high_risk_all:more_marketing``: the mean of ``p_true(x + 1) − p_true(x)`` over the high-risk customers
  the action reaches (consent and support).

``--floor γ`` draws the outcome from ``γ + (1 − γ)·expit(η)`` instead: a background decline like the one the floor
logit estimates on the store's data (γ ≈ 0.09-0.12). Without it the true process sits on the boundary of the
recalibration map (no floor, the map's floor cannot be negative), where the map's floor is biased upward and the
effects shrink toward zero.

The choice among the candidate models is not repeated (the intervals are conditional on the model's form, as the
report says). Command::

    python -m analysis.bench.coverage --exports 200 --replicates 200 --customers 1300 --seed 1 --jobs 2
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

STATISTICS = ("ame:marketing_6m", "ame:marketing_current", "effect:high_risk_all:more_marketing")


def one_export(r: int, n_customers: int, n_boot: int, seed: int, conf_level: float = 0.95, floor: float = 0.0) -> dict:
    from scipy.special import expit
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    from analysis.decisions import actions
    from analysis.decisions import decide as decisions
    from analysis.modeling.benchmark import candidate_models
    from analysis.data.dictionary import TARGET
    from analysis.modeling.features import PREDICTORS, model_frame
    from analysis.modeling.pair import ModelPair, recalibrated
    from analysis.data.synthetic import true_probability
    from analysis.data.synthetic import customer_table
    from stats.calibration import AsymptoteCalibrator
    from stats.link_margins import logit_link_model

    with threadpool_limits(limits=1):
        table = customer_table(n_customers, seed + r)
        if floor > 0:
            # a background decline the customers' profile does not explain, as the floor logit finds on the
            # store's data: P = γ + (1 − γ)·expit(η); the outcome is drawn again from it (its own stream)
            draw = np.random.default_rng(np.random.SeedSequence([seed + r, 99])).uniform(size=len(table))
            table = table.assign(activity_decline=(draw < floor + (1 - floor) * true_probability(table)).astype(int))
        frame = model_frame(table)
        X, y = frame[list(PREDICTORS)], frame[TARGET].to_numpy()
        gam = clone(candidate_models()["gam_engagement"][0]).fit(X, y)
        oof = np.empty(len(y))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=seed + r).split(X, y):
            oof[test] = clone(gam).fit(X.iloc[train], y[train]).predict_proba(X.iloc[test])[:, 1]
        calibrator = AsymptoteCalibrator().fit(oof, y)
        link = logit_link_model(gam.design, gam.params_, gam.cov_)
        pair = ModelPair("gam_engagement", "gam_engagement_recalibrated", link, recalibrated(link, calibrator),
                         calibrator, gam)
        p_label = calibrator.transform(oof)
        high = p_label >= 0.5
        reference = actions.support_reference(frame)
        levers = actions.STORE_ACTIONS
        frames = decisions.evaluation_frames(frame, reference, levers)
        plan = decisions.StatisticPlan(keys=frames.keys, groups={decisions.HEADLINE_GROUP: high}, room=frames.room,
                                       steps=frames.steps, profit=frame["profit"].to_numpy(float),
                                       scenario_levers=[lv.name for lv in levers],
                                       ame_columns=[lv.column for lv in levers], drop_levers=[])
        task = decisions.bootstrap_task(pair, frames, plan, y)
        boot = decisions.bootstrap_procedure(task, pair, seed=seed + r, n_boot=n_boot, n_jobs=1,
                                             conf_level=conf_level)
        summary = boot.summary()

        def p_true(f):
            return floor + (1 - floor) * true_probability(f)

        truth = {}
        for column in ("marketing_6m", "marketing_current"):
            h = frames.steps[column]
            up, down = frames.frames[f"up:{column}"], frames.frames[f"down:{column}"]
            truth[f"ame:{column}"] = float(np.mean(p_true(up) - p_true(down)) / (2 * h))
        m = high & frames.room["more_marketing"]
        cf = frames.frames["cf:more_marketing"]
        truth["effect:high_risk_all:more_marketing"] = (
            float(np.mean(p_true(cf)[m] - p_true(frame)[m])) if m.any() else np.nan)
        row = {"export": r, "n_high_risk": int(high.sum()), "n_reached": int(m.sum())}
        from scipy.stats import norm

        z = norm.ppf(0.5 + conf_level / 2)
        for name in STATISTICS:
            if name not in summary.index:
                continue
            s = summary.loc[name]
            est, lo, hi, sd = s["estimate"], s["conf_low"], s["conf_high"], s["std_error"]
            intervals = {"percentile": (lo, hi), "basic": (2 * est - hi, 2 * est - lo),
                         "normal": (est - z * sd, est + z * sd)}
            row.update({f"{name}|estimate": est, f"{name}|truth": truth[name], f"{name}|sd": sd})
            for method, (a, b) in intervals.items():
                row.update({f"{name}|{method}|low": a, f"{name}|{method}|high": b,
                            f"{name}|{method}|covered": bool(a <= truth[name] <= b)})
        del expit
        return row


def coverage(n_exports: int, n_boot: int, n_customers: int, seed: int, n_jobs: int = 2,
             floor: float = 0.0) -> pd.DataFrame:
    """One row per statistic and interval kind: nominal level, exports, coverage with its binomial SE, mean
    interval width, bias, the mean bootstrap SD beside the SD of the estimation errors over the exports."""
    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=n_jobs)(delayed(one_export)(r, n_customers, n_boot, seed, floor=floor)
                                   for r in range(n_exports))
    per_export = pd.DataFrame(rows)
    out = []
    for name in STATISTICS:
        for method in ("percentile", "basic", "normal"):
            covered = per_export[f"{name}|{method}|covered"].dropna().astype(bool)
            width = per_export[f"{name}|{method}|high"] - per_export[f"{name}|{method}|low"]
            bias = per_export[f"{name}|estimate"] - per_export[f"{name}|truth"]
            k = len(covered)
            share = float(covered.mean()) if k else np.nan
            out.append({"statistic": name, "interval": method, "conf_level": 0.95, "exports": k,
                        "coverage": share, "coverage_se": float(np.sqrt(share * (1 - share) / k)) if k else np.nan,
                        "mean_width": float(width.mean()), "mean_bias": float(bias.mean()),
                        "mean_truth": float(per_export[f"{name}|truth"].mean()),
                        # is the bootstrap SD the spread of the errors? (their ratio, averaged over the exports)
                        "mean_bootstrap_sd": float(per_export[f"{name}|sd"].mean()),
                        "sd_of_errors": float(bias.std(ddof=1))})
    return pd.DataFrame(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.bench.coverage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--exports", type=int, default=200)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--customers", type=int, default=1300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--floor", type=float, default=0.0,
                        help="background decline γ of the true process, P = γ + (1 − γ)·expit(η) (default 0)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    table = coverage(args.exports, args.replicates, args.customers, args.seed, args.jobs, floor=args.floor)
    print(table.to_string(index=False))
    print(f"coverage of {args.exports} exports × {args.replicates} replicates in "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
