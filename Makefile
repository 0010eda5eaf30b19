# Civic Grid: `make demo` sets everything up and serves the demo; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENDOR := src/civicgrid/static/vendor
PORT ?= 8000

.PHONY: demo test setup assets messages lint typecheck bench clean

$(BIN)/civicgrid: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Front-end libraries from the npm registry, pinned by package-lock.json, served by us.
$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p $(VENDOR)/leaflet
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/dist/images $(VENDOR)/leaflet/
	touch $@

assets: $(VENDOR)/.stamp

# The English catalogue; message ids are Chinese, so pages stay Chinese if gettext is missing.
messages: $(BIN)/civicgrid
	@command -v msgfmt >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq gettext >/dev/null; } || true
	@if command -v msgfmt >/dev/null; then $(BIN)/civicgrid compilemessages --ignore='.venv/*' --ignore='node_modules/*' >/dev/null; \
	 else echo "gettext (msgfmt) is missing: English pages stay untranslated"; fi

setup: $(BIN)/civicgrid assets messages

demo: setup
	$(BIN)/civicgrid demo --port $(PORT)

# Page tests drive Debian's Chromium; install it when it is missing (root, as on CI).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	 else echo "Page tests need Chromium: sudo apt-get install chromium fonts-noto-cjk"; fi

test: setup /usr/bin/chromium
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

lint: $(BIN)/civicgrid
	$(BIN)/ruff check src
	$(BIN)/ruff format --check src

typecheck: $(BIN)/civicgrid
	$(BIN)/mypy src/civicgrid

bench: setup
	$(BIN)/civicgrid bench all

clean:
	rm -rf $(VENV) node_modules $(VENDOR) var
