"""«В один клик» retention analysis: load → validate → features → model → segments → report."""

import os

# BLAS thread pools fight each other (and joblib's workers) on a 2-core machine: a statsmodels fit was
# measured 100× slower with the default pools while another process used the CPU. One thread each is faster.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
