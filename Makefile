# `make demo` and `make test` work on a fresh machine: they create .venv and install
# the project with its extras first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export KASSA_TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

# Fonts embedded in ticket PDFs (booking/tickets/fonts.py): Debian packages, installed as
# root when missing; skipped when present. (dpkg-query, not dpkg -s: a removed package whose
# config files remain still passes dpkg -s.)
FONT_PACKAGES := fonts-dejavu-core fonts-wqy-microhei

.PHONY: install fonts demo test lint unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: fonts $(STAMP)

fonts:
	@missing=""; for p in $(FONT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing ticket fonts:$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "ticket PDFs need the Debian packages$$missing: run 'apt-get install -y$$missing' as root" >&2; \
	fi

demo: install
	$(BIN)/kassa demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy bot handlers booking storage locales tests bench
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest -q

test: lint unit

bench: install
	$(BIN)/python bench/holds.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/tickets.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache

# Debian's chromium, driven headless by Playwright in tests/test_checkout_browser.py (Playwright
# never downloads a browser here). Installed as root when missing; only a warning otherwise.
.PHONY: chromium
install: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "the checkout browser test needs Debian's chromium: run 'apt-get install -y chromium' as root" >&2; \
	fi
