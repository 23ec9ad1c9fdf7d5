"""``python -m analysis run``: every stage in order, each table written to ``results/``, each stage timed."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import benchmark, model, model_file, segments
from analysis.dataset import load_dataset, write_data_outputs
from analysis.features import EXCLUDED_VARIABLES, model_frame, units_table, xy
from analysis.paths import MODEL_PATH_NAME
from analysis.specification import select_specification
from stats.crossval import nested_cv, pairwise_comparisons, summarise_cv

#: The full protocol of the benchmark; ``quick`` is for tests on small synthetic data.
PROTOCOL = {"n_splits": 5, "n_repeats": 5, "inner_splits": 3}
QUICK_PROTOCOL = {"n_splits": 3, "n_repeats": 2, "inner_splits": 2}


class _Timer:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.rows.append({"stage": name, "seconds": seconds})
        print(f"  {name:<28s} {seconds:6.1f} s", file=sys.stderr)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["stage", "seconds"])


def _write(frame: pd.DataFrame, results_dir: Path, name: str) -> None:
    frame.to_csv(results_dir / f"{name}.csv", index=False)


def run_analysis(data_dir=None, results_dir: Path = Path("results"), seed: int = 20261123,
                 quick: bool = False, n_jobs: int = 2) -> dict:
    """Run the whole analysis and write every table to ``results_dir``; returns the stage timings."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    timer = _Timer()
    protocol = QUICK_PROTOCOL if quick else PROTOCOL

    with timer.stage("data"):
        dataset = load_dataset(data_dir)
        write_data_outputs(dataset, results_dir)
        frame = model_frame(dataset.model_table)
        _write(units_table(), results_dir, "model_units")
        _write(pd.DataFrame({"variable": list(EXCLUDED_VARIABLES), "reason": list(EXCLUDED_VARIABLES.values())}),
               results_dir, "excluded_variables")

    with timer.stage("phik and VIF"):
        matrix, with_target = model.correlation_checks(frame, seed=seed, n_simulations=200 if quick else 1000)
        _write(matrix, results_dir, "phik_matrix")
        _write(with_target, results_dir, "phik_target")
        _write(model.vif_table(frame), results_dir, "vif")
        _write(model.gvif_table(frame), results_dir, "gvif")

    with timer.stage("specification search"):
        formula, steps = select_specification(frame)
        _write(steps, results_dir, "specification_steps")

    with timer.stage("logit and AME"):
        fit = model.fit_chosen_logit(frame, formula)
        _write(fit.coefficients, results_dir, "logit_coefficients")
        _write(fit.coefficients_robust, results_dir, "logit_coefficients_hc3")
        _write(fit.fit, results_dir, "model_fit")
        _write(fit.marginal_effects, results_dir, "marginal_effects")
        _write(fit.lr_vs_linear, results_dir, "lr_test_vs_linear")
        separation, influence = model.model_diagnostics(fit.result)
        _write(separation, results_dir, "separation")
        influence = influence.assign(id=frame["id"].to_numpy()[influence["row"].to_numpy()])
        _write(influence, results_dir, "influence")

    with timer.stage("benchmark (nested CV)"):
        X, y = xy(frame)
        models = benchmark.benchmark_models(formula, seed)
        cv = nested_cv(models, X, y, seed=seed, n_jobs=n_jobs, **protocol)
        summary = summarise_cv(cv.scores, cv.n_train, cv.n_test)
        holdout = benchmark.holdout_auc(models, X, y, seed=seed, inner_splits=protocol["inner_splits"])
        table = benchmark.ordered(summary.merge(holdout[["model", "test_auc"]], on="model"))
        _write(table, results_dir, "model_benchmark")
        _write(benchmark.ordered(pairwise_comparisons(cv.scores, cv.n_train, cv.n_test), "model_a"),
               results_dir, "model_comparison")
        scores = cv.scores.assign(best_params=cv.scores["best_params"].map(lambda d: json.dumps(d, sort_keys=True)))
        _write(scores, results_dir, "cv_scores")
        oof = pd.concat([frame[["id"]].rename(columns={}).assign(y_true=y.to_numpy()).reset_index(drop=True),
                         cv.oof.reset_index(drop=True)], axis=1)
        _write(oof, results_dir, "oof_predictions")

    with timer.stage("calibration"):
        curve, tests = model.calibration_checks(y.to_numpy(), oof["logit_spec"].to_numpy())
        _write(curve, results_dir, "calibration_curve")
        _write(tests, results_dir, "calibration_tests")

    with timer.stage("segments and offers"):
        seg = segments.segment_analysis(frame, fit.result, oof["logit_spec"].to_numpy(), seed=seed)
        for name, table in seg.tables.items():
            _write(table, results_dir, name)

    with timer.stage("save model"):
        spec = model_file.freeze(fit.result, frame, thresholds=seg.thresholds, allowed_levers=seg.allowed_levers,
                                 lever_bounds=seg.bounds, rules=dataset.data.reference,
                                 oof_risk=oof["logit_spec"].to_numpy(), extra={"seed": seed})
        model_file.save_model(results_dir / MODEL_PATH_NAME, spec)

    times = timer.frame()
    times = pd.concat([times, pd.DataFrame([{"stage": "total", "seconds": times["seconds"].sum()}])],
                      ignore_index=True)
    _write(times, results_dir, "run_times")
    run_info = pd.DataFrame([{"seed": seed, "protocol": json.dumps(protocol), "quick": quick,
                              "data_dir": str(dataset.data_dir), "formula": formula,
                              "n_customers": int(len(frame)), "decline_rate": float(np.mean(y))}])
    _write(run_info, results_dir, "run_info")
    print(f"analysis written to {results_dir} in {times['seconds'].iloc[-1]:.1f} s", file=sys.stderr)
    return {"times": times}
