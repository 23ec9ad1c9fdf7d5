"""``python -m analysis score``: per-customer offers for a new export, with the model fitted by ``run``.

The new export goes through the same reading and validation as the training data (the target column may be
absent). Every validated customer is scored; the business rules of the modelling table (regular customers,
plausible revenue) are applied and customers they exclude are kept in the output with the reason instead of
an offer, so that no customer silently disappears.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from analysis.dataset import load_dataset
from analysis.features import model_frame
from analysis.paths import MODEL_PATH_NAME
from analysis.dictionary import TARGET
from analysis.segments import customer_offers
from stats.logit import fit_logit, linear_predictor

OFFER_COLUMNS = ["id", "p_decline", "profit", "segment", "offer", "risk_drop", "reason"]


def load_model(results_dir: Path) -> dict:
    """The model saved by ``run``, refitted from its training frame (and checked against the saved estimates);
    a missing file is a one-line error."""
    path = Path(results_dir) / MODEL_PATH_NAME
    if not path.exists():
        raise FileNotFoundError(f"no fitted model at {path}: run `python -m analysis run` first")
    with open(path, "rb") as handle:
        fitted = pickle.load(handle)
    import patsy

    info = patsy.dmatrix(fitted["formula"], fitted["training_frame"]).design_info
    return {**fitted, "design_info": info}


def business_predictor(fitted: dict):
    """``predict(frame) -> P(decline)`` of the business model: the logit's linear predictor, through the saved
    recalibration map when there is one."""
    from stats.calibration import AsymptoteCalibrator

    calibrator = None
    if fitted.get("calibrator"):
        calibrator = AsymptoteCalibrator()
        params = fitted["calibrator"]
        calibrator.floor_, calibrator.ceiling_ = params["floor"], params["ceiling"]
        calibrator.slope_, calibrator.shift_ = params["slope"], params["shift"]

    import patsy

    params = np.asarray(fitted["params"], dtype=float)

    def predict(frame):
        eta = np.asarray(patsy.build_design_matrices([fitted["design_info"]], frame)[0], dtype=float) @ params
        return expit(eta) if calibrator is None else calibrator.transform_score(eta)

    return predict


def score_table(table: pd.DataFrame, excluded: pd.DataFrame, fitted: dict) -> pd.DataFrame:
    """Offers for the customers of ``table``; ``excluded`` customers get a row with the exclusion reason.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, p_decline, profit, segment, offer, reason``, sorted by ``id``.
    """
    frame = model_frame(table)
    predict = business_predictor(fitted)
    p = predict(frame)
    offers = customer_offers(frame, predict, p, fitted["thresholds"], fitted["allowed_levers"],
                             fitted["lever_bounds"]).assign(reason="")
    if len(excluded):
        rest = pd.DataFrame({"id": excluded["id"].to_numpy(), "p_decline": np.nan, "profit": np.nan,
                             "segment": "not_scored", "offer": "none", "risk_drop": np.nan,
                             "reason": (excluded["step"] + ": " + excluded["detail"]).to_numpy()})
        offers = pd.concat([offers, rest], ignore_index=True)
    return offers.sort_values("id", kind="stable").reset_index(drop=True)[OFFER_COLUMNS]


def score_export(data_dir, results_dir: Path, out: Path) -> Path:
    """Read, validate and score a new export; write the offers CSV to ``out``."""
    fitted = load_model(results_dir)
    dataset = load_dataset(data_dir, require_target=False)
    offers = score_table(dataset.model_table, dataset.data.excluded, fitted)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    offers.to_csv(out, index=False)
    return out
