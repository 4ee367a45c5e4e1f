# The two set-up commands of the README:
#   make demo   install opskit in .venv, generate the demo data, validate it, print a summary
#   make test   install opskit with the test and Spark extras in .venv, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo-data

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/opskit demo --out $(DEMO)
	$(BIN)/opskit validate $(DEMO)

test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) $(DEMO) build dist *.egg-info
