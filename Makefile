PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The oldest versions setup.cfg allows (keras>=3.8), with the TensorFlow it needs.
OLDEST_VENV := .venv-oldest
OLDEST := keras==3.8.0 tensorflow==2.18.1 tensorboard==2.18.0 keras-tuner==1.4.7 \
	numpy==1.26.4 scikit-learn==1.3.2 pytest hypothesis matplotlib

.PHONY: demo test test-compat test-oldest bench clean

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

test: $(STAMP)
	$(BIN)/ruff check .
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/python -m pytest -q

# The suite on the oldest supported Keras (TensorFlow only: JAX and PyTorch
# tests skip without those packages), then on the newest (`make test`).
test-oldest: $(OLDEST_VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=2 $(OLDEST_VENV)/bin/python -m pytest -q

test-compat: test-oldest test

bench: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/weighted-models bench

clean:
	rm -rf $(VENV) $(OLDEST_VENV) demo_output .pytest_cache
