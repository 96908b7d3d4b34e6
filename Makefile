# Two entry points: `make demo` (the main job) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data/tfds
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv demo test test-fast clean

$(BIN)/activate: setup.py
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/activate

venv: $(BIN)/activate

demo: venv
	$(BIN)/python -m modelzoo demo --data_dir $(DATA_DIR)

test: venv
	$(BIN)/python -m pytest -q -rs

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) *.egg-info
