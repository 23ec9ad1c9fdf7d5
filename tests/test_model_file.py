"""The model file: predictions equal statsmodels' own, no customer rows in the file, one-line refusals."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from analysis import model_file
from analysis.features import linear_formula, model_frame
from analysis.synthetic import customer_table

FORMULAS = {
    "numeric": "x + z",
    "treatment_text": "C(g, Treatment('b')) + x",
    "treatment_number": "C(k, Treatment(0)) + x",
    "spline": "cr(x, df=4, constraints='center') + z",
    "product": "x + z + x:z",
    "centred": "I(x - 0.5) + I(z - -1.25)",
    "everything": ("cr(x, df=4, constraints='center') + C(g, Treatment('b')) + C(k, Treatment(0)) + x:z "
                   "+ I(z - 0.5) + C(g):z"),
}


def _data(n: int, seed: int, scale: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": scale * rng.normal(size=n), "z": scale * rng.normal(1, 2, size=n),
                          "g": rng.choice(["a", "b", "c"], size=n), "k": rng.integers(0, 2, size=n)})
    eta = -0.3 + 0.8 * frame["x"] - 0.4 * frame["z"] + 0.5 * (frame["g"] == "a") + 0.3 * frame["k"]
    frame["y"] = (rng.random(n) < expit(eta)).astype(int)
    return frame


@pytest.fixture(scope="module")
def training():
    return _data(600, 1)


@pytest.fixture(scope="module")
def new_data():
    # three times the spread of the training data: splines, products and centring are used beyond the range
    return _data(300, 2, scale=3.0).drop(columns="y")


@pytest.mark.parametrize("name", list(FORMULAS))
def test_typical_predictions_equal_statsmodels(name, training, new_data, tmp_path):
    result = smf.logit(f"y ~ {FORMULAS[name]}", training).fit(disp=0)
    path = model_file.save_model(tmp_path / "model.json", model_file.freeze(result, training))
    spec = model_file.load_model(path)
    assert new_data["x"].max() > training["x"].max() and new_data["x"].min() < training["x"].min()
    np.testing.assert_allclose(model_file.predict_proba(spec, new_data), result.predict(new_data).to_numpy(),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(model_file.linear_predictor(spec, new_data),
                               result.predict(new_data, which="linear").to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(spec["covariance"], result.cov_params().to_numpy(), rtol=0, atol=0)
    assert spec["estimates"]["names"] == list(result.params.index)


def test_design_frozen_as_documented(training):
    result = smf.logit(f"y ~ {FORMULAS['everything']}", training).fit(disp=0)
    factors = model_file.freeze(result, training)["design"]["factors"]
    assert factors["C(g, Treatment('b'))"] == {"kind": "categorical", "variable": "g", "levels": ["a", "b", "c"],
                                               "reference": "b"}
    assert factors["C(k, Treatment(0))"]["levels"] == [0, 1] and factors["C(k, Treatment(0))"]["reference"] == 0
    assert factors["I(z - 0.5)"]["constants"] == [0.5]
    spline = factors["cr(x, df=4, constraints='center')"]
    assert spline["lower_bound"] == training["x"].min() and spline["upper_bound"] == training["x"].max()
    assert len(spline["knots"]) == 5 and len(spline["constraints"][0]) == 5


def test_store_model_predictions_equal_statsmodels():
    table = model_frame(customer_table(1500, 4))
    formula = linear_formula().replace("tenure_100d", "cr(tenure_100d, df=4, constraints='center')")
    result = smf.logit(f"activity_decline ~ {formula} + pages_per_visit:minutes_prev", table).fit(disp=0)
    spec = model_file.freeze(result, table)
    new = model_frame(customer_table(500, 5))
    np.testing.assert_allclose(model_file.predict_proba(spec, new), result.predict(new).to_numpy(), rtol=0,
                               atol=1e-12)


def test_raises_on_unsupported_factor(training):
    data = training.assign(w=np.exp(training["x"]))
    result = smf.logit("y ~ np.log(w)", data).fit(disp=0)
    with pytest.raises(model_file.ModelFileError, match=r"unsupported formula factor 'np.log\(w\)'"):
        model_file.freeze(result, data)


def test_unseen_level_named(training, new_data):
    result = smf.logit("y ~ C(g, Treatment('b')) + x", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    new = new_data.head(4).assign(g=["a", "d", "b", "e"])
    unseen = model_file.unseen_levels(spec, new)
    assert unseen.to_dict("list") == {"row": [1, 3], "variable": ["g", "g"], "value": ["d", "e"]}
    with pytest.raises(model_file.ModelFileError, match=r"^g = 'd' \(row 1\) is a level the model has not seen"):
        model_file.predict_proba(spec, new)


# --- probability block --------------------------------------------------------------------------------
def test_probability_floor_and_calibrators_match_independent_computations(training, new_data):
    result = smf.logit("y ~ x + z", training).fit(disp=0)
    spec = model_file.freeze(result, training)
    eta_train = result.predict(training, which="linear").to_numpy()
    eta_new = result.predict(new_data, which="linear").to_numpy()

    floor = {"link": "floor_logit", "floor": 0.07}
    np.testing.assert_allclose(model_file.probability_from_eta(floor, eta_new),
                               0.07 + 0.93 / (1 + np.exp(-eta_new)), rtol=1e-14)

    p_train = 0.07 + 0.93 * expit(eta_train)
    iso = IsotonicRegression(out_of_bounds="clip").fit(p_train, training["y"])
    isotonic = {**floor, "calibrator": {"kind": "isotonic", "x": iso.X_thresholds_.tolist(),
                                         "y": iso.y_thresholds_.tolist()}}
    p_new = 0.07 + 0.93 * expit(eta_new)
    np.testing.assert_allclose(model_file.probability_from_eta(isotonic, eta_new), iso.predict(p_new),
                               rtol=0, atol=1e-12)

    platt_fit = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(
        logit(expit(eta_train)).reshape(-1, 1), training["y"])
    platt = {"link": "logit", "calibrator": {"kind": "platt", "a": float(platt_fit.coef_[0, 0]),
                                             "b": float(platt_fit.intercept_[0])}}
    np.testing.assert_allclose(model_file.probability_from_eta(platt, eta_new),
                               platt_fit.predict_proba(logit(expit(eta_new)).reshape(-1, 1))[:, 1], rtol=1e-10)

    # stored in the file and used by predict_proba
    spec = model_file.freeze(result, training, probability=isotonic)
    np.testing.assert_allclose(model_file.predict_proba(spec, new_data), iso.predict(p_new), rtol=0, atol=1e-12)


@pytest.mark.parametrize("block, message", [
    ({"link": "probit"}, "unknown link 'probit'"),
    ({"link": "floor_logit", "floor": 1.5}, "the floor must be a number in \\[0, 1\\), got 1.5"),
    ({"link": "logit", "calibrator": {"kind": "isotonic", "x": [0.2, 0.1], "y": [0, 1]}}, "x increasing"),
    ({"link": "logit", "calibrator": {"kind": "beta"}}, "unknown calibrator kind 'beta'"),
])
def test_raises_on_bad_probability_block(training, block, message):
    result = smf.logit("y ~ x", training).fit(disp=0)
    with pytest.raises(model_file.ModelFileError, match=message):
        model_file.freeze(result, training, probability=block)


# --- no customer rows -----------------------------------------------------------------------------------
def _numbers_and_strings(text: str) -> tuple[set[float], set[str]]:
    strings = set(json.loads(f"[{m}]")[0] for m in re.findall(r'"(?:[^"\\]|\\.)*"', text))
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    numbers = {float(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", without_strings)}
    return numbers, strings


def test_file_holds_no_customer_id(tmp_path):
    sizes = {}
    for n in (800, 3200):
        table = model_frame(customer_table(n, 8))
        result = smf.logit(f"activity_decline ~ {linear_formula()}", table).fit(disp=0)
        spec = model_file.freeze(result, table, oof_risk=result.predict(table).to_numpy())
        path = model_file.save_model(tmp_path / f"model_{n}.json", spec)
        text = path.read_text(encoding="utf-8")
        numbers, strings = _numbers_and_strings(text)
        ids = set(table["id"].tolist())
        # whole JSON tokens are compared: a digit run inside a longer number is not an id
        assert not ids & {int(v) for v in numbers if v == int(v)}
        assert not {str(i) for i in ids} & strings
        assert '"id"' not in text
        sizes[n] = len(text)
    # the file does not grow with the training data: aggregates only
    assert abs(sizes[3200] - sizes[800]) < 0.05 * sizes[800]


# --- refusals -----------------------------------------------------------------------------------------
@pytest.fixture
def saved(training, tmp_path):
    result = smf.logit(f"y ~ {FORMULAS['everything']}", training).fit(disp=0)
    return model_file.save_model(tmp_path / "model.json", model_file.freeze(result, training))


def _one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_raises_on_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        model_file.load_model(tmp_path / "model.json")
    assert _one_line(err.value) == f"no fitted model at {tmp_path / 'model.json'}: run `python -m analysis run` first"


def test_raises_on_truncated_file(saved):
    text = saved.read_text(encoding="utf-8")
    saved.write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as err:
        model_file.load_model(saved)
    assert re.fullmatch(rf"model file {re.escape(str(saved))} is truncated or not JSON \(.+\): rerun "
                        r"`python -m analysis run`", _one_line(err.value))


def test_raises_on_tampered_file(saved):
    spec = json.loads(saved.read_text(encoding="utf-8"))
    spec["estimates"]["values"][1] += 1e-9
    saved.write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as err:
        model_file.load_model(saved)
    assert _one_line(err.value).startswith(f"model file {saved} does not match its SHA-256")


def test_raises_on_wrong_version_and_foreign_json(saved):
    spec = json.loads(saved.read_text(encoding="utf-8"))
    saved.write_text(json.dumps({**spec, "version": 99}), encoding="utf-8")
    with pytest.raises(model_file.ModelFileError) as err:
        model_file.load_model(saved)
    assert _one_line(err.value).startswith(f"model file {saved} has format version 99; this package reads "
                                           "version 1")
    saved.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(model_file.ModelFileError, match="is not a model file of this package"):
        model_file.load_model(saved)


def test_save_is_deterministic(training, tmp_path):
    result = smf.logit(f"y ~ {FORMULAS['everything']}", training).fit(disp=0)
    a = model_file.save_model(tmp_path / "a.json", model_file.freeze(result, training)).read_bytes()
    b = model_file.save_model(tmp_path / "b.json", model_file.freeze(result, training)).read_bytes()
    assert a == b
