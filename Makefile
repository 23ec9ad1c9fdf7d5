# Two commands for a newcomer: `make report` and `make test`.
# Both create .venv with the project's dependencies when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
DATA_DIR_ARG := $(if $(DATA_DIR),--data-dir $(DATA_DIR),)
DATA_DIR_ENV := $(if $(DATA_DIR),ONECLICK_DATA_DIR=$(abspath $(DATA_DIR)),)

.PHONY: all report test test-fast bench run validate score clean help mutation mutation-decisions

help:
	@echo "make report   - run the analysis (reused when unchanged) and render report.html/.pdf and brief.html/.pdf"
	@echo "make test     - run the test suite"
	@echo "make bench    - time make report (cold, unchanged, prose edit), run at 5k/20k customers and every stage (BENCH_ARGS=\"--only report scaling\")"
	@echo "make mutation - mutation score of MUTATE_MODULES (slow, not part of make test)"
	@echo "make mutation-decisions - mutation score of each module of the decision path with its fast tests"
	@echo "make validate - validate the four exports and print the row accounting"
	@echo "Optional: DATA_DIR=/path/to/exports"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The analysis runs as _quarto.yml's pre-render command (reused at once when nothing changed), then the render;
# the venv first on PATH so that Quarto, when installed, runs the pre-render and the chunks with its python.
# Both documents (_quarto.yml's project: render: list) in one call: the pre-render once, then the two rendered at the same time; the kernel runs
# only when a chunk, an inline expression or something they read changed (qmdrender's execution cache).
report: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(DATA_DIR_ENV) $(BIN)/python -m qmdrender

run: $(STAMP)
	$(BIN)/python -m analysis run $(DATA_DIR_ARG)

validate: $(STAMP)
	$(BIN)/python -m analysis validate $(DATA_DIR_ARG)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Mutation testing (mutmut) of these modules with these fast tests; mutmut runs, for each mutant, only the
# listed tests that execute the mutated function. Override on the command line, e.g.
#   make mutation MUTATE_MODULES="stats/groups.py" MUTATE_TESTS="tests/stats/test_groups.py"
# Default: stats/ and the data modules and benchmark of analysis/ (issue 10) with their fast tests, then the decision
# path (mutation-decisions, below); docs/mutation.md gives the per-module commands (one module at a time is much
# faster: mutmut then collects coverage of fewer tests).
MUTATE_BUSINESS ?= analysis/data/validate.py analysis/data/customers.py analysis/modeling/benchmark.py
MUTATE_MODULES ?= $(filter-out stats/__init__.py,$(wildcard stats/*.py)) $(MUTATE_BUSINESS)
MUTATE_TESTS   ?= $(filter-out tests/stats/test_slow.py,$(wildcard tests/stats/test_*.py)) \
                  $(wildcard tests/analysis/data/test_*.py) tests/analysis/decisions/test_experiment.py \
                  tests/analysis/modeling/test_benchmark.py
MUTATE_JOBS    ?= 2

mutation: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,mutation]'
	nice -n 19 $(BIN)/python scripts/mutation.py --jobs $(MUTATE_JOBS) --modules $(MUTATE_MODULES) --tests $(MUTATE_TESTS)
	$(MAKE) mutation-decisions

# The decision path (issue 22): model checks, the model pair, effects, the model-choice rule, the model file,
# segments, actions, decisions, scoring, the summary and the report's text, each module with its own fast tests
# (scripts/mutation.py DECISION_PATH), one after the other in .mutation-decision/<module>/.
mutation-decisions: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,mutation]'
	nice -n 19 $(BIN)/python scripts/mutation.py --decision-path --workdir .mutation-decision --jobs $(MUTATE_JOBS)

bench: $(STAMP)
	$(BIN)/python -m analysis.bench.timings $(BENCH_ARGS)

clean:
	rm -rf results results.tmp-* results.old-* _render report.html report.pdf brief.html brief.pdf .pytest_cache .mutation .mutation-decision
