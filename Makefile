# Set-up is automatic: every target that needs Python creates .venv and installs the pinned
# requirements first (once; again when requirements.txt or pyproject.toml change). requirements-nodeps.txt:
# packages installed without their own pins (aisfx, for its pretrained weights: it pins librosa 0.9 and numpy 1.23).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= dev_data
SIZE ?= small

.PHONY: demo test test-all data lab tensorboard benchmark regress regress-update clean

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## make demo: make the small synthetic dataset (if dev_data is empty) and run the main job
demo: $(STAMP)
	$(PY) -m helpers demo --data $(DATA) --size $(SIZE)

## make test: the test suite (notebooks included, on tiny synthetic data), in TEST_WORKERS processes
## that share the cores (one module's tests stay in one worker: they share its fixtures; the modules
## start in the order tests/conftest.py gives them, the longest first, not by their number of tests)
## (tests marked slow are left out: `make test-all` runs them too)
TEST_WORKERS ?= 3
PYTEST_XDIST := -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder
test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_XDIST) -m "not slow"

## make test-all: every test, the slow ones included (the benchmarks' smoke runs)
test-all: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_XDIST)

## make data: the synthetic dataset only (SIZE=tiny|small|full)
data: $(STAMP)
	$(PY) -m helpers synth --out $(DATA) --size $(SIZE)

## make lab: JupyterLab on the project
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=.

## make tensorboard: TensorBoard on the Lightning solutions' logs
tensorboard: $(STAMP)
	$(VENV)/bin/tensorboard --logdir result

clean:
	rm -rf result .cache

## make regress: rerun the solutions on fixed synthetic data; fail if a result moved
regress: $(STAMP)
	$(PY) -m helpers regress

## make regress-update: rewrite regression/expected.csv on purpose
regress-update: $(STAMP)
	$(PY) -m helpers regress --update

## make benchmark: this project against the original baseline, same data, ratios printed: the whole
## command against the baseline's two scripts (SIZE=small|medium), then stage by stage
## (FULL=1 adds the memory run at full development-set size: ToyCar, 4,000 clips)
benchmark: $(STAMP)
	$(PY) benchmarks/end_to_end.py --size $(SIZE) --report docs/benchmarks
	$(PY) benchmarks/baseline_vs_toolkit.py $(if $(FULL),--full) --report docs/benchmarks

.PHONY: docs docs-serve
## make docs: the documentation site into site/ (open site/index.html), in strict mode: a broken link, a
## page missing from the navigation or a docstring that does not render fails it; its notebook pages
## show the executed notebooks that `make demo` left in result/ (DCASE_DOCS_RESULT_DIR: another folder)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

## make docs-serve: the site on http://127.0.0.1:8000, rebuilt when a page changes
docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve
