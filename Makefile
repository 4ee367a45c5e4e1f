# The two set-up commands of the README:
#   make demo   install opskit in .venv, generate the demo data, validate it, render the five demo
#               reports of examples/schedule.toml as one batch (reports/latest/*.html, reports/index.html)
#   make test   install opskit with the test and Spark extras in .venv (and Debian's chromium with
#               CJK fonts for the browser test, when missing), run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := demo-data
CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/opskit demo --out $(DEMO)
	$(BIN)/opskit validate $(DEMO)
	$(BIN)/opskit report batch examples/schedule.toml --out reports --jobs 2

# Headless Chromium and CJK fonts for tests/test_browser.py, from Debian (Playwright drives this
# chromium; it downloads no browser). Installed only when missing, and only as root (CI is root).
browser-deps:
	@if [ -x $(CHROMIUM) ] && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and fonts-noto-cjk (Debian packages) for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	else \
		echo "note: $(CHROMIUM) or the Noto CJK fonts are missing and this is not root:"; \
		echo "      sudo apt-get install chromium fonts-noto-cjk   (the browser test is skipped without them)"; \
	fi

test: $(BIN)/python browser-deps
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]"
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/python
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) $(DEMO) reports build dist *.egg-info
