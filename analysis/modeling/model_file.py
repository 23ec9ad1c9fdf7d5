"""The fitted model as a file: plain JSON, no pickle, no customer rows.

``run`` freezes the fitted statsmodels formula logit into a dictionary (:func:`freeze`) and writes it with
:func:`save_model`; ``score`` reads it with :func:`load_model` and rebuilds the design matrix of a new export
from the frozen description alone (:func:`design_matrix`, :func:`linear_predictor`, :func:`predict_proba`):
no refit, no training data, no code execution when loading.

What the file holds
-------------------
``format, version``
    :data:`FORMAT` and :data:`VERSION`; another version is refused with one line.
``formula``
    The statsmodels formula (``response ~ right-hand side``), for the reader.
``design``
    ``factors``: every factor of the patsy design, keyed by its code, frozen as one of

    * ``numeric`` -- a plain column (``x``);
    * ``identity`` -- ``I(...)`` of arithmetic on columns and constants (``I(x - 3.5)``); the expression is
      kept as text and evaluated by a whitelist of ``+ - * / **`` on columns and numbers (never ``eval``);
    * ``cr`` -- ``cr(x, ...)``: the natural cubic regression spline with its knots (boundary knots included)
      and its constraint matrix (``constraints='center'``: the training column means of the basis);
    * ``categorical`` -- ``C(x, ...)`` or a text column: its levels (in patsy's order) and the reference
      level (the level whose contrast row is zero, when there is one).

    ``terms``: per term, its subterms in column order; a subterm lists its factors and, for each
    categorical factor, the contrast matrix (levels × columns) patsy used. A term's columns are the
    products of its factors' columns with the left-most factor varying fastest (as patsy and R build them),
    so products of numeric columns (``a:b``) and categorical × numeric terms need nothing more.
    ``column_names``: the design's columns in order.
``estimates, covariance``
    Names and values of the coefficients, and their covariance matrix (rows and columns in the same order).
``probability``
    How the linear predictor ``eta`` becomes a probability: ``{"link": "logit"}`` (``p = expit(eta)``) or
    ``{"link": "floor_logit", "floor": g}`` (``p = g + (1 - g) expit(eta)``), optionally with a
    ``calibrator``: ``{"kind": "isotonic", "x": [...], "y": [...]}`` (piecewise-linear interpolation of
    ``p``, constant beyond the ends: scikit-learn's ``IsotonicRegression(out_of_bounds="clip")``) or
    ``{"kind": "platt", "a": a, "b": b}`` (``p' = expit(a logit(p) + b)``).
``thresholds, allowed_levers, support, rules``
    Whatever the caller stores for scoring (segment thresholds, the store actions allowed in offers, the support
    rule's reference counts of each action column's distinct training values per cluster, business-rule
    reference values).
``training``
    Aggregates of the training data for drift checks (:func:`training_summary`): the number of rows, the
    deciles and bin shares of each numeric variable, the level shares of each categorical variable, and the
    deciles and bin shares of the training out-of-fold risk. Only aggregates: no row, no id.
``sha256``
    SHA-256 of the canonical JSON of everything else (keys sorted, no spaces, UTF-8); a file edited or cut
    after it was written is refused with one line.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from patsy.mgcv_cubic_splines import _get_crs_dmatrix
from scipy.special import expit, logit

FORMAT = "oneclick-logit-model"
VERSION = 2

#: Quantiles whose values bound the drift bins of a numeric variable (the training deciles).
DECILES = tuple(np.round(np.arange(1, 10) / 10, 1))


class ModelFileError(ValueError):
    """A model file that cannot be used (missing, truncated, modified, another version, malformed)."""


# ---------------------------------------------------------------------------------------------------
# Freezing a fitted formula logit
# ---------------------------------------------------------------------------------------------------
def _plain(value):
    """A JSON-ready copy of ``value``: numpy scalars and arrays as Python numbers and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            raise ModelFileError(f"cannot store the non-finite number {value!r} in a model file")
        return value
    if value is None or isinstance(value, str):
        return value
    raise ModelFileError(f"cannot store a {type(value).__name__} in a model file: {value!r}")


_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def _check_arithmetic(node: ast.AST, code: str) -> set[str]:
    """Column names of an ``I()`` expression; refuses anything but numbers, names and + - * / **."""
    if isinstance(node, ast.Expression):
        return _check_arithmetic(node.body, code)
    if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
        return _check_arithmetic(node.left, code) | _check_arithmetic(node.right, code)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        return _check_arithmetic(node.operand, code)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return set()
    if isinstance(node, ast.Name):
        return {node.id}
    raise ModelFileError(f"unsupported expression in formula factor {code!r}: only numbers, columns and "
                         "+ - * / ** can be stored")


def _evaluate(node: ast.AST, frame: pd.DataFrame):
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, frame)
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, frame), _evaluate(node.right, frame)
        op = type(node.op)
        return {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
                ast.Pow: np.power}[op](left, right)
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, frame)
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.Constant):
        return node.value
    return _column(frame, node.id).to_numpy(dtype=float)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        raise ModelFileError(f"the data has no column {name!r}, which the model needs")
    return frame[name]


def _freeze_factor(factor, info) -> dict:
    code = factor.code
    tree = ast.parse(code, mode="eval").body
    call = tree.func.id if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) else None
    if info.type == "categorical":
        if isinstance(tree, ast.Name):
            variable = tree.id
        elif call == "C" and tree.args and isinstance(tree.args[0], ast.Name):
            variable = tree.args[0].id
        else:
            raise ModelFileError(f"unsupported categorical factor {code!r}: use a column or C(column, ...)")
        return {"kind": "categorical", "variable": variable, "levels": _plain(list(info.categories))}
    if info.num_columns != 1 and call != "cr":
        raise ModelFileError(f"unsupported factor {code!r} with {info.num_columns} columns")
    if isinstance(tree, ast.Name):
        return {"kind": "numeric", "variable": tree.id}
    if call == "I" and len(tree.args) == 1 and not tree.keywords:
        expression = ast.unparse(tree.args[0])
        variables = _check_arithmetic(ast.parse(expression, mode="eval"), code)
        constants = [n.value for n in ast.walk(tree.args[0]) if isinstance(n, ast.Constant)]
        return {"kind": "identity", "expression": expression, "variables": sorted(variables),
                "constants": _plain(constants)}
    if call == "cr" and tree.args and isinstance(tree.args[0], ast.Name):
        (transform,) = info.state["transforms"].values()
        constraints = getattr(transform, "_constraints", None)
        knots = np.asarray(transform._all_knots, dtype=float)
        return {"kind": "cr", "variable": tree.args[0].id, "knots": _plain(knots),
                "lower_bound": float(knots[0]), "upper_bound": float(knots[-1]),
                "constraints": None if constraints is None else _plain(np.atleast_2d(constraints)),
                "num_columns": int(info.num_columns)}
    raise ModelFileError(f"unsupported formula factor {code!r}: supported are columns, I(arithmetic), "
                         "cr(column, ...), C(column, ...) and products of these")


def _reference(levels: list, matrix: np.ndarray):
    zero = [level for level, row in zip(levels, matrix) if not np.any(row)]
    return zero[0] if len(zero) == 1 else None


def freeze_design(design_info) -> dict:
    """The patsy ``DesignInfo`` of a fitted model as a JSON-ready dictionary (see the module docstring)."""
    factors = {}
    for factor, info in design_info.factor_infos.items():
        factors[factor.code] = _freeze_factor(factor, info)
    terms = []
    for term, subterms in design_info.term_codings.items():
        frozen = []
        for sub in subterms:
            contrasts = {}
            for factor, contrast in sub.contrast_matrices.items():
                matrix = np.asarray(contrast.matrix, dtype=float)
                contrasts[factor.code] = _plain(matrix)
                entry = factors[factor.code]
                entry.setdefault("reference", _reference(entry["levels"], matrix))
            frozen.append({"factors": [f.code for f in sub.factors], "contrasts": contrasts,
                           "num_columns": int(sub.num_columns)})
        terms.append({"name": term.name(), "subterms": frozen})
    return {"factors": factors, "terms": terms, "column_names": list(design_info.column_names)}


def model_variables(spec: dict) -> tuple[list[str], list[str]]:
    """The data columns the model reads: ``(numeric, categorical)``, each sorted."""
    numeric, categorical = set(), set()
    for entry in spec["design"]["factors"].values():
        if entry["kind"] == "categorical":
            categorical.add(entry["variable"])
        elif entry["kind"] == "identity":
            numeric.update(entry["variables"])
        else:
            numeric.add(entry["variable"])
    return sorted(numeric), sorted(categorical)


def _bins(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin index of each value: bin ``i`` is ``(edges[i-1], edges[i]]``, the outer bins are open."""
    return np.searchsorted(np.asarray(edges, dtype=float), np.asarray(values, dtype=float), side="left")


def decile_summary(values: np.ndarray) -> dict:
    """The distinct training deciles of ``values`` and the share of values in each bin they bound."""
    values = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(values, DECILES))
    counts = np.bincount(_bins(values, edges), minlength=len(edges) + 1)
    return {"edges": _plain(edges), "shares": _plain(counts / len(values))}


def training_summary(frame: pd.DataFrame, numeric: list[str], categorical: list[str],
                     risk: np.ndarray | None = None) -> dict:
    """Aggregates of the training data for drift checks: deciles and bin shares of numeric variables,
    level shares of categoricals, deciles and bin shares of the (out-of-fold) risk."""
    summary = {"n": int(len(frame)), "numeric": {}, "categorical": {}}
    for name in numeric:
        summary["numeric"][name] = decile_summary(frame[name].to_numpy(dtype=float))
    for name in categorical:
        shares = frame[name].value_counts(normalize=True, sort=False)
        levels = sorted(shares.index, key=lambda v: (str(type(v)), v))
        summary["categorical"][name] = {"levels": _plain(levels), "shares": _plain([shares[v] for v in levels])}
    if risk is not None:
        summary["risk"] = decile_summary(np.asarray(risk, dtype=float))
    return summary


def freeze(result, training_frame: pd.DataFrame, *, thresholds=None, allowed_levers=(), support=None,
           rules=None, oof_risk: np.ndarray | None = None, probability: dict | None = None,
           extra: dict | None = None) -> dict:
    """A fitted statsmodels formula logit as a JSON-ready model specification.

    Parameters
    ----------
    result
        Results of ``statsmodels.formula.api.logit(...).fit()`` (or :func:`stats.logit.fit_logit`).
    training_frame
        The data the model was fitted on: used for the drift summary and to check that the frozen design
        rebuilds the fitted design matrix (to 1e-10); no row of it is stored.
    thresholds, allowed_levers, support, rules
        Stored as given (dataclasses as dictionaries) for the scoring step.
    oof_risk
        The training customers' out-of-fold risk (reference of the predicted-risk drift check).
    probability
        The ``probability`` block (default ``{"link": "logit"}``).

    Returns
    -------
    dict
        The specification described in the module docstring (without ``sha256``, added by
        :func:`save_model`).

    Raises
    ------
    ModelFileError
        A factor the file format cannot describe (e.g. ``np.log(x)``), or a design that does not rebuild.
    """
    info = result.model.data.model_spec
    design = freeze_design(info)
    params = result.params
    spec = {
        "format": FORMAT,
        "version": VERSION,
        "formula": str(result.model.formula),
        "design": design,
        "estimates": {"names": [str(n) for n in params.index], "values": _plain(params.to_numpy(dtype=float))},
        "covariance": _plain(np.asarray(result.cov_params(), dtype=float)),
        "probability": _plain(probability or {"link": "logit"}),
        "thresholds": _plain(thresholds),
        "allowed_levers": _plain(list(allowed_levers)),
        "support": _plain(support or {}),
        "rules": _plain(rules or {}),
    }
    if extra:
        spec.update(_plain(extra))
    if spec["estimates"]["names"] != design["column_names"]:
        raise ModelFileError("the estimates do not follow the design's columns: "
                             f"{spec['estimates']['names']} vs {design['column_names']}")
    _check_probability(spec["probability"], "the probability block")
    used = training_frame.loc[result.model.data.row_labels] if result.model.data.row_labels is not None \
        else training_frame
    rebuilt = design_matrix(spec, used)
    fitted = np.asarray(result.model.exog, dtype=float)
    if rebuilt.shape != fitted.shape or not np.allclose(rebuilt, fitted, rtol=1e-10, atol=1e-10):
        raise ModelFileError("the frozen design does not rebuild the fitted design matrix")
    numeric, categorical = model_variables(spec)
    spec["training"] = training_summary(used, numeric, categorical, oof_risk)
    return spec


# ---------------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------------
def _canonical(spec: dict) -> bytes:
    body = {k: v for k, v in spec.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def save_model(path: str | os.PathLike, spec: dict) -> Path:
    """Write ``spec`` with its SHA-256 as JSON to ``path`` (through a temporary file and a rename, so that a
    reader never sees half a file)."""
    path = Path(path)
    spec = {**_plain({k: v for k, v in spec.items() if k != "sha256"})}
    spec["sha256"] = hashlib.sha256(_canonical(spec)).hexdigest()
    text = json.dumps(spec, indent=1, ensure_ascii=False, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


_REQUIRED_KEYS = ("formula", "design", "estimates", "covariance", "probability", "thresholds", "allowed_levers",
                  "support", "rules", "training")


def load_model(path: str | os.PathLike) -> dict:
    """Read and check a model file written by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelFileError
        Unreadable, truncated or not JSON, not a model file, another format version, content that does not
        match its SHA-256, or a malformed specification. Every message is one line and names the file.
    """
    path = Path(path)
    rerun = "rerun `python -m analysis run`"
    if not path.exists():
        raise FileNotFoundError(f"no fitted model at {path}: run `python -m analysis run` first")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ModelFileError(f"cannot read model file {path}: {reason}") from None
    def refuse(constant):
        # JSON has no NaN or Infinity; Python's reader would accept them and the hash check would then fail
        # with a bare ValueError
        raise ModelFileError(f"model file {path} holds the non-finite number {constant}: {rerun}")

    try:
        spec = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"model file {path} is truncated or not JSON ({err.msg} at line {err.lineno}, "
                             f"column {err.colno}): {rerun}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a model file of this package (format {FORMAT!r} expected)")
    if spec.get("version") != VERSION:
        raise ModelFileError(f"model file {path} has format version {spec.get('version')!r}; this package reads "
                             f"version {VERSION}: {rerun}")
    if spec.get("sha256") != hashlib.sha256(_canonical(spec)).hexdigest():
        raise ModelFileError(f"model file {path} does not match its SHA-256 (modified after it was written?): "
                             f"{rerun}")
    missing = [k for k in _REQUIRED_KEYS if k not in spec]
    if missing:
        raise ModelFileError(f"model file {path} lacks {', '.join(missing)}: {rerun}")
    names, values = spec["estimates"]["names"], spec["estimates"]["values"]
    if names != spec["design"]["column_names"] or len(values) != len(names):
        raise ModelFileError(f"model file {path}: the estimates do not match the design's columns")
    _check_probability(spec["probability"], f"model file {path}")
    return spec


def _check_probability(block: dict, where: str) -> None:
    link = block.get("link") if isinstance(block, dict) else None
    if link not in ("logit", "floor_logit"):
        raise ModelFileError(f"{where}: unknown link {link!r} (logit or floor_logit)")
    if link == "floor_logit" and not (isinstance(block.get("floor"), (int, float)) and 0 <= block["floor"] < 1):
        raise ModelFileError(f"{where}: the floor must be a number in [0, 1), got {block.get('floor')!r}")
    calibrator = block.get("calibrator")
    if calibrator is None:
        return
    kind = calibrator.get("kind") if isinstance(calibrator, dict) else None
    if kind == "isotonic":
        x, y = np.asarray(calibrator.get("x", []), float), np.asarray(calibrator.get("y", []), float)
        if len(x) < 1 or len(x) != len(y) or np.any(np.diff(x) < 0):
            raise ModelFileError(f"{where}: the isotonic calibrator needs x increasing and as many y as x")
    elif kind == "asymptote":
        values = [calibrator.get(k) for k in ("floor", "ceiling", "slope", "shift")]
        if not all(isinstance(v, (int, float)) for v in values) or not (0 <= values[0] < values[1] <= 1) \
                or values[2] <= 0:
            raise ModelFileError(f"{where}: the asymptote calibrator needs 0 <= floor < ceiling <= 1 and slope > 0")
    elif kind == "platt":
        if not all(isinstance(calibrator.get(k), (int, float)) for k in ("a", "b")):
            raise ModelFileError(f"{where}: the platt calibrator needs numbers a and b")
    else:
        raise ModelFileError(f"{where}: unknown calibrator kind {kind!r} (isotonic, platt or asymptote)")


# ---------------------------------------------------------------------------------------------------
# Predictions from the file
# ---------------------------------------------------------------------------------------------------
def _level_codes(entry: dict, frame: pd.DataFrame) -> np.ndarray:
    """Index of each row's level in the frozen levels; -1 for a level the model has not seen."""
    return level_codes(_column(frame, entry["variable"]), entry["levels"])


def level_codes(values: pd.Series, levels: list) -> np.ndarray:
    """Position of each value in ``levels``; -1 for a value not among them (or missing)."""
    # a hash lookup in a pandas Index: several times faster than Series.map on text columns
    return np.asarray(pd.Index(levels).get_indexer(values), dtype=np.int64)


def unseen_levels(spec: dict, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value of a categorical variable is not among the model's levels.

    Returns
    -------
    pandas.DataFrame
        Columns ``row`` (position in ``frame``), ``variable``, ``value``; one row per (row, variable).
    """
    rows = []
    seen = set()
    for entry in spec["design"]["factors"].values():
        if entry["kind"] != "categorical" or entry["variable"] in seen:
            continue
        seen.add(entry["variable"])
        codes = _level_codes(entry, frame)
        positions = np.flatnonzero(codes < 0)
        values = _column(frame, entry["variable"]).to_numpy()[positions]
        rows.append(pd.DataFrame({"row": positions, "variable": entry["variable"], "value": values}))
    if not rows:
        return pd.DataFrame(columns=["row", "variable", "value"])
    return pd.concat(rows, ignore_index=True).sort_values(["row", "variable"], kind="stable").reset_index(drop=True)


def _factor_values(entry: dict, frame: pd.DataFrame) -> np.ndarray:
    """The numeric columns of a non-categorical factor (n × k)."""
    if entry["kind"] == "numeric":
        return _column(frame, entry["variable"]).to_numpy(dtype=float).reshape(-1, 1)
    if entry["kind"] == "identity":
        value = _evaluate(ast.parse(entry["expression"], mode="eval"), frame)
        return np.broadcast_to(np.asarray(value, dtype=float), (len(frame),)).reshape(-1, 1)
    if entry["kind"] == "cr":
        x = _column(frame, entry["variable"]).to_numpy(dtype=float)
        constraints = None if entry["constraints"] is None else np.asarray(entry["constraints"], dtype=float)
        # patsy's own basis function, fed with the frozen knots and constraints (what CR.transform does)
        return np.asarray(_get_crs_dmatrix(x, np.asarray(entry["knots"], dtype=float), constraints,
                                           cyclic=False), dtype=float)
    raise ModelFileError(f"unknown factor kind {entry['kind']!r} in the model file")


def _column_combinations(columns_per_factor: list[int]):
    # the left-most factor varies fastest, as in patsy (and R)
    for reversed_combo in itertools.product(*[range(n) for n in reversed(columns_per_factor)]):
        yield reversed_combo[::-1]


def design_matrix(spec: dict, frame: pd.DataFrame) -> np.ndarray:
    """The model's design matrix for ``frame``, built from the frozen design only.

    Returns
    -------
    numpy.ndarray
        ``len(frame)`` × number of coefficients, columns in the order of ``spec["design"]["column_names"]``.

    Raises
    ------
    ModelFileError
        A column the model needs is absent, or a categorical value the model has not seen (the message
        names the variable, the value and the row position); use :func:`unseen_levels` to set such rows
        aside first.
    """
    design = spec["design"]
    factors = design["factors"]
    n = len(frame)
    values, codes = {}, {}
    for code, entry in factors.items():
        if entry["kind"] == "categorical":
            codes[code] = _level_codes(entry, frame)
            bad = np.flatnonzero(codes[code] < 0)
            if len(bad):
                value = _column(frame, entry["variable"]).iloc[bad[0]]
                raise ModelFileError(f"{entry['variable']} = {value!r} (row {bad[0]}) is a level the model has "
                                     f"not seen; levels: {', '.join(map(str, entry['levels']))}")
        else:
            values[code] = _factor_values(entry, frame)
    blocks = []
    for term in design["terms"]:
        for sub in term["subterms"]:
            matrices = []
            for code in sub["factors"]:
                if code in sub["contrasts"]:
                    matrices.append(np.asarray(sub["contrasts"][code], dtype=float)[codes[code]])
                else:
                    matrices.append(values[code])
            out = np.ones((n, sub["num_columns"]))
            for i, combo in enumerate(_column_combinations([m.shape[1] for m in matrices])):
                for matrix, j in zip(matrices, combo):
                    out[:, i] *= matrix[:, j]
            blocks.append(out)
    X = np.hstack(blocks) if blocks else np.ones((n, 0))
    if X.shape[1] != len(design["column_names"]):
        raise ModelFileError(f"the frozen design gives {X.shape[1]} columns, the model has "
                             f"{len(design['column_names'])}")
    return X


def linear_predictor(spec: dict, frame: pd.DataFrame) -> np.ndarray:
    """``eta = X(frame) @ beta`` from the model file (no refit, no training data)."""
    # a row-wise sum rather than a BLAS matrix-vector product: each customer's value then depends only on that
    # customer's row (BLAS kernels round differently with the batch's size and alignment), so an export scored
    # in ranges gives the same bits as scored whole
    X = np.ascontiguousarray(design_matrix(spec, frame))
    return (X * np.asarray(spec["estimates"]["values"], dtype=float)).sum(axis=1)


def probability_from_eta(block: dict, eta: np.ndarray) -> np.ndarray:
    """Apply the ``probability`` block (link, then calibrator) to linear predictors ``eta``."""
    eta = np.asarray(eta, dtype=float)
    p = expit(eta)
    if block["link"] == "floor_logit":
        g = float(block["floor"])
        p = g + (1.0 - g) * p
    calibrator = block.get("calibrator")
    if calibrator is not None:
        if calibrator["kind"] == "asymptote":
            # floor-and-ceiling map of stats.calibration.AsymptoteCalibrator on the logit scale
            with np.errstate(divide="ignore"):
                s = logit(np.clip(p, 1e-12, 1 - 1e-12))
            p = float(calibrator["floor"]) + (float(calibrator["ceiling"]) - float(calibrator["floor"])) * expit(
                float(calibrator["slope"]) * s + float(calibrator["shift"]))
        elif calibrator["kind"] == "isotonic":
            # np.interp is constant beyond the end points: out_of_bounds="clip"
            p = np.interp(p, np.asarray(calibrator["x"], float), np.asarray(calibrator["y"], float))
        else:
            with np.errstate(divide="ignore"):
                p = expit(float(calibrator["a"]) * logit(p) + float(calibrator["b"]))
    return p


def inference_score(block: dict, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inference model's score (its logit, before any calibrator) and ``d score / d eta``: ``eta`` and 1 for the
    logit link; ``logit(g + (1 − g) expit(eta))`` and its derivative for the floor logit."""
    eta = np.asarray(eta, dtype=float)
    if block["link"] != "floor_logit":
        return eta, np.ones_like(eta)
    g = float(block["floor"])
    e = expit(eta)
    q = np.clip(g + (1.0 - g) * e, 1e-12, 1 - 1e-12)
    return logit(q), (1.0 - g) * e * (1.0 - e) / (q * (1.0 - q))


def inference_probability(spec: dict, frame: pd.DataFrame) -> np.ndarray:
    """The inference model's probability (the link without any calibrator): the probability whose changes are the
    risk drops (:data:`analysis.decisions.decide.EFFECT_SCALE`)."""
    return expit(inference_score(spec["probability"], linear_predictor(spec, frame))[0])


def inference_drop(spec: dict, frame0: pd.DataFrame, frame1: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's risk drop ``q(frame0) − q(frame1)`` of the inference model's probability ``q`` (same customers,
    changed values) and its delta-method standard error from the file's covariance: ``J = q'(η0) x0 − q'(η1) x1``
    with ``q' = expit'(s) · ds/dη``, ``se = sqrt(J V J')``. Row by row (no BLAS), so a customer's values do not
    depend on the batch."""
    X0 = np.ascontiguousarray(design_matrix(spec, frame0))
    X1 = np.ascontiguousarray(design_matrix(spec, frame1))
    beta = np.asarray(spec["estimates"]["values"], dtype=float)
    s0, d0 = inference_score(spec["probability"], (X0 * beta).sum(axis=1))
    s1, d1 = inference_score(spec["probability"], (X1 * beta).sum(axis=1))
    q0, q1 = expit(s0), expit(s1)
    J = (q0 * (1.0 - q0) * d0)[:, None] * X0 - (q1 * (1.0 - q1) * d1)[:, None] * X1
    se = np.sqrt(np.maximum(_rowwise_quadratic(J, np.asarray(spec["covariance"], dtype=float)), 0.0))
    return q0 - q1, se


def _rowwise_quadratic(J: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``diag(J V J')`` with each row's value computed from that row alone (no BLAS: a customer's value must
    not depend on the batch it is scored in)."""
    JV = np.empty_like(J)
    for k in range(V.shape[1]):
        JV[:, k] = (J * V[:, k]).sum(axis=1)
    return (JV * J).sum(axis=1)


def predict_proba(spec: dict, frame: pd.DataFrame) -> np.ndarray:
    """The model's probability for each row of ``frame`` (see ``probability`` in the module docstring)."""
    return probability_from_eta(spec["probability"], linear_predictor(spec, frame))
