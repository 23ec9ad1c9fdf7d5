"""``python -m analysis run``: every stage in order, each table written to ``results/``, each stage timed."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import segments
from analysis.modeling import benchmark
from analysis.decisions import decide as decisions
from analysis.modeling import checks, effects
from analysis.modeling.pair import model_pair
from analysis.modeling import model_file
from analysis.data.dataset import data_outputs, load_dataset
from analysis.modeling.features import EXCLUDED_VARIABLES, model_frame, units_table, xy
from analysis.paths import MODEL_PATH_NAME
from analysis.settings import FULL, Protocol
from analysis.results.registry import results_markdown, write_table
from analysis.summary import headline_actions_table, headline_table, levers_table, protocol_table
from analysis.modeling.specification import centring_values, select_specification



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


def _import_models() -> int:
    import analysis.modeling.benchmark  # noqa: F401  (what every cross-validation task needs)

    return os.getpid()


def _warm_workers(n_jobs: int) -> threading.Thread:
    """Start the cross-validation's worker processes (and their imports, about two seconds each) in the
    background while the first stages run, instead of when the benchmark starts."""
    def start() -> None:
        if n_jobs > 1:
            from joblib import Parallel, delayed

            Parallel(n_jobs=n_jobs)(delayed(_import_models)() for _ in range(n_jobs))

    thread = threading.Thread(target=start, name="warm-cv-workers", daemon=True)
    thread.start()
    return thread




def run_analysis(data_dir=None, results_dir: Path = Path("results"), protocol: Protocol = FULL) -> dict:
    """Run the whole analysis under ``protocol`` (:mod:`analysis.settings`) and write every table to
    ``results_dir``; returns the stage timings."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    seed, n_jobs = protocol.seed, protocol.n_jobs
    # the tables of this run as written, by name: later stages take them from here (in memory), not from disk
    written: dict[str, pd.DataFrame] = {}

    def _write(frame: pd.DataFrame, name: str) -> None:
        # every table goes through the registry, which refuses columns it does not document
        write_table(frame, results_dir, name)
        written[name] = frame

    warm = _warm_workers(n_jobs)
    timer = _Timer()

    with timer.stage("data"):
        dataset = load_dataset(data_dir)
        for name, table in data_outputs(dataset).items():
            _write(table, name)
        _write(protocol_table(protocol), "protocol")
        _write(levers_table(), "levers")
        frame = model_frame(dataset.model_table)
        _write(units_table(), "model_units")
        _write(pd.DataFrame({"variable": list(EXCLUDED_VARIABLES), "reason": list(EXCLUDED_VARIABLES.values())}),
               "excluded_variables")

    with timer.stage("phik and VIF"):
        matrix, with_target = checks.correlation_checks(frame, seed=seed, n_simulations=protocol.n_simulations)
        _write(matrix, "phik_matrix")
        _write(with_target, "phik_target")
        _write(checks.vif_table(frame, protocol.vif_threshold), "vif")
        _write(checks.gvif_table(frame, protocol.vif_threshold), "gvif")

    with timer.stage("specification search"):
        centres = centring_values(frame)
        formula, steps = select_specification(frame, centres=centres)
        _write(steps, "specification_steps")
        _write(pd.DataFrame({"variable": list(centres), "centre": list(centres.values()),
                             "rule": "median of the modelling data"}), "centring_values")

    with timer.stage("benchmark (nested CV)"):
        warm.join()
        X, y = xy(frame)
        y_arr = y.to_numpy()
        bench = benchmark.run_benchmark(X, y, seed=seed, protocol=protocol.cross_validation(), n_jobs=n_jobs,
                                        holdout_share=protocol.holdout_share)
        for name, table in bench.tables.items():
            _write(table, name)
        oof = bench.oof
        _write(pd.concat([frame[["id"]].reset_index(drop=True).assign(y_true=y_arr,
                                                                       p_chosen=oof[bench.business].to_numpy()),
                          oof.reset_index(drop=True)], axis=1), "oof_predictions")

    with timer.stage("chosen model and segments"):
        pair = model_pair(bench.inference, bench.business, frame, formula,
                                oof[bench.inference].to_numpy())
        p_label = oof[bench.business].to_numpy()
        thresholds = segments.make_thresholds(frame["profit"].to_numpy(), risk=protocol.risk_threshold,
                                              profit_quantile=protocol.profit_quantile)
        seg = segments.segment_analysis(frame, p_label, y_arr, thresholds)
        for name, table in seg.tables.items():
            _write(table, name)
        # the customer bootstrap of the business procedure starts on the workers now and runs while the effects
        # and the calibration are computed here (the decisions stage collects it)
        running = decisions.start_bootstrap(pair, frame, seg.groups, seed=seed,
                                            n_boot=protocol.n_bootstrap, n_jobs=n_jobs,
                                            conf_level=protocol.conf_level)

    with timer.stage("effects"):
        tables = effects.effect_tables(pair, frame, formula, protocol.vif_threshold)
        for name, table in tables.items():
            if not name.startswith("_"):
                _write(table, name)
        separation, influence = checks.model_diagnostics(tables.pop("_selected_result"))
        _write(separation, "separation")
        _write(influence.assign(id=frame["id"].to_numpy()[influence["row"].to_numpy()]), "influence")

    with timer.stage("calibration"):
        curves, tests = [], []
        for name in bench.calibration_models:
            curve, test = checks.calibration_checks(y_arr, oof[name].to_numpy())
            curves.append(curve.assign(model=name))
            tests.append(test.assign(model=name))
        _write(pd.concat(curves, ignore_index=True), "calibration_curve")
        _write(pd.concat(tests, ignore_index=True), "calibration_tests")
        _write(checks.roc_curves(y_arr, oof), "roc_curves")

    with timer.stage("decisions (bootstrap)"):
        decided = decisions.decide(pair, frame, formula, bench.tables["model_candidates"], seg.groups, p_label,
                                   seg.thresholds, seed=seed, n_boot=protocol.n_bootstrap, n_jobs=n_jobs,
                                   conf_level=protocol.conf_level, alpha=protocol.alpha, running=running)
        for name, table in decided.tables.items():
            _write(table, name)

    with timer.stage("save model"):
        scoring_result, probability = effects.scoring_spec(pair, formula, frame)
        spec = model_file.freeze(scoring_result, frame, thresholds=seg.thresholds,
                                 allowed_levers=decided.allowed_levers, support=decided.reference,
                                 rules=dataset.data.reference, oof_risk=oof[bench.business].to_numpy(),
                                 probability=probability, extra={"seed": seed, "model": bench.business})
        model_file.save_model(results_dir / MODEL_PATH_NAME, spec)
        _write(decisions.deployed_predictions(pair, frame, oof[bench.business].to_numpy(), seg.thresholds,
                                              decided.allowed_levers, decided.reference, protocol.conf_level),
               "deployed_predictions")

    with timer.stage("experiment plan"):
        from analysis.decisions.experiment import experiment_plan

        _write(experiment_plan(written["action_effects"], written["customer_groups"], written["oof_predictions"],
                               written["customer_table"], alpha=protocol.alpha), "experiment_plan")

    times = timer.frame()
    times = pd.concat([times, pd.DataFrame([{"stage": "total", "seconds": times["seconds"].sum()}])],
                      ignore_index=True)
    _write(times, "run_times")
    # the run's folds and replicates (the whole protocol is in protocol.csv and the manifest)
    run_info = pd.DataFrame([{"seed": seed, "protocol": json.dumps({**protocol.cross_validation(),
                                                                    "n_bootstrap": protocol.n_bootstrap}),
                              "quick": protocol.name == "quick",
                              "data_dir": dataset.data_dir.name, "formula": formula,
                              "n_customers": int(len(frame)), "decline_rate": float(np.mean(y))}])
    _write(headline_table({name: written[name] for name in (
        "row_accounting", "typo_corrections", "customer_table", "segment_thresholds", "offers", "segments",
        "model_candidates", "model_benchmark", "model_comparison", "accuracy_gap", "vif", "protocol", "offer_plan")}
        | {"run_info": run_info}), "headline")
    _write(headline_actions_table({name: written[name] for name in (
        "scenarios", "effects_by_model", "action_tests", "action_value")}), "headline_actions")
    _write(run_info, "run_info")
    # for someone who opens the folder: what every file is (the same text as docs/results.md)
    (results_dir / "README.md").write_text(results_markdown(), encoding="utf-8")
    print(f"analysis written in {times['seconds'].iloc[-1]:.1f} s", file=sys.stderr)
    return {"times": times}
