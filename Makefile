PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The oldest versions setup.cfg allows (keras>=3.8), with the TensorFlow it needs.
OLDEST_VENV := .venv-oldest
OLDEST := keras==3.8.0 tensorflow==2.18.1 tensorboard==2.18.0 keras-tuner==1.4.7 \
	numpy==1.26.4 scikit-learn==1.3.2 pytest hypothesis matplotlib

.PHONY: demo test lint docs package-check test-compat test-oldest bench clean

$(STAMP): setup.cfg pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

$(OLDEST_VENV)/.installed: setup.cfg pyproject.toml
	test -d $(OLDEST_VENV) || $(PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/pip install --upgrade pip
	$(OLDEST_VENV)/bin/pip install $(OLDEST)
	$(OLDEST_VENV)/bin/pip install --no-deps -e .
	touch $@

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/weighted-models demo

# Lint and format check, the docs site (strict), the package as a user gets it,
# then the suite.
test: lint docs package-check
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The documentation site, into site/; warnings (a broken reference) are errors.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# sdist and wheel built and checked; the wheel installed into a clean venv
# (outside the source tree) where the package imports and both commands run.
PKG_VENV := build/package-check
package-check: $(STAMP)
	rm -rf dist $(PKG_VENV)
	$(BIN)/python -m build --outdir dist . > build-log.txt 2>&1 || (cat build-log.txt; exit 1)
	rm -f build-log.txt
	$(BIN)/twine check --strict dist/*
	$(PYTHON) -m venv $(PKG_VENV)
	$(PKG_VENV)/bin/pip install --quiet --upgrade pip
	$(PKG_VENV)/bin/pip install --quiet dist/*.whl
	cd $(PKG_VENV) && bin/python -c "import weighted_models; print('installed', weighted_models.__version__, 'at', weighted_models.__file__)" 2>/dev/null
	cd $(PKG_VENV) && bin/weighted-models demo --seeds 1 --epochs 2 --verbose 0 --out demo_check 2>/dev/null | tail -3
	cd $(PKG_VENV) && bin/weighted-models bench label_counting --quick --out bench_check 2>/dev/null | tail -1
	cd $(PKG_VENV) && bin/weighted-models bench quality 2>&1 | tail -1 | grep "pip install 'weighted_models\[plot\]'"

# The suite on the oldest supported Keras (TensorFlow only: JAX and PyTorch
# tests skip without those packages), then on the newest (`make test`).
test-oldest: $(OLDEST_VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=2 $(OLDEST_VENV)/bin/python -m pytest -q

test-compat: test-oldest test

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/weighted-models bench

clean:
	rm -rf $(VENV) $(OLDEST_VENV) demo_output .pytest_cache site dist build
