"""Codes shared by the pipeline, which writes them into results/, and the report, which labels them
(:mod:`analysis.report.labels`): defined once, here, at the bottom of the layers."""

#: The four segments of the risk × profit grid, in the order tables and figures list them.
GRID_SEGMENTS = ("high_risk_high_profit", "high_risk_low_profit", "low_risk_high_profit", "low_risk_low_profit")

#: The ``role`` of a candidate model in ``model_candidates.csv``.
ROLES = ("inference_and_business", "inference", "business")
