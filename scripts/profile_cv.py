"""CPU seconds of each model of the nested cross-validation, per outer fold (the profile behind issue 12).

Runs the benchmark's tasks one after the other in this process, exactly as a worker runs them
(:func:`stats.crossval.one_fold`: same seeds, same inner folds), on the first ``--folds`` outer folds of the full
protocol, and prints for each model the CPU seconds per fold (``time.process_time``, so other load on the machine
matters less than for wall-clock times) and that times the protocol's number of folds. ``--cprofile MODEL`` prints
the top entries of a cProfile of that model's tasks.

Usage::

    .venv/bin/python scripts/profile_cv.py [--folds 3] [--cprofile random_forest]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.modeling import benchmark  # noqa: E402
from analysis.data.dataset import load_dataset  # noqa: E402
from analysis.modeling.features import model_frame, xy  # noqa: E402
from analysis.settings import FULL  # noqa: E402
from sklearn.model_selection import RepeatedStratifiedKFold  # noqa: E402
from stats.crossval import _fold_seed, one_fold, validate_parameters  # noqa: E402

SEED = FULL.seed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=3, help="outer folds to run (from the first)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cprofile", default=None, help="a model name: print the top of its cProfile")
    parser.add_argument("--recalibrated", default="gam_engagement",
                        help="the inference model whose recalibrated version the run adds (model_candidates.csv)")
    args = parser.parse_args(argv)

    frame = model_frame(load_dataset(args.data_dir).model_table)
    X, y = xy(frame)
    X = X.astype({c: object for c in X.columns if pd.api.types.is_string_dtype(X[c].dtype)})
    y01 = y.to_numpy().astype(int)
    models = {**benchmark.candidate_models(), **benchmark.benchmark_models(SEED)}
    inference = args.recalibrated
    models[f"{inference}_recalibrated"] = (benchmark.Recalibrated(base=models[inference][0], seed=SEED), None)
    for name, (estimator, grid) in models.items():
        validate_parameters(name, estimator, grid)
    outer = RepeatedStratifiedKFold(n_splits=FULL.n_splits, n_repeats=FULL.n_repeats,
                                    random_state=SEED)
    splits = list(outer.split(np.zeros(len(y01)), y01))[: args.folds]
    n_total = FULL.n_splits * FULL.n_repeats
    cpu = {name: 0.0 for name in models}
    profiler = cProfile.Profile() if args.cprofile else None
    for idx, (train, test) in enumerate(splits):
        repeat, fold = divmod(idx, FULL.n_splits)
        fold_seed = _fold_seed(SEED, repeat, fold)
        for name, (estimator, grid) in models.items():
            if profiler is not None and name == args.cprofile:
                profiler.enable()
            start = time.process_time()
            one_fold(name, estimator, grid, X, y01, train, test, FULL.inner_splits, "roc_auc", fold_seed)
            cpu[name] += time.process_time() - start
            if profiler is not None and name == args.cprofile:
                profiler.disable()
    table = pd.DataFrame({"model": list(cpu), "cpu_s_per_fold": [v / len(splits) for v in cpu.values()]})
    table[f"cpu_s_x{n_total}_folds"] = table["cpu_s_per_fold"] * n_total
    table = pd.concat([table, pd.DataFrame([{"model": "total", "cpu_s_per_fold": table["cpu_s_per_fold"].sum(),
                                             f"cpu_s_x{n_total}_folds": table[f"cpu_s_x{n_total}_folds"].sum()}])])
    print(table.to_markdown(index=False, floatfmt=".2f"))
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
