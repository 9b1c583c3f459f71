# yingji — the two commands: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test fuzz install serve worker clean-demo messages

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

var/secret_key:
	@mkdir -p var
	@$(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key

# Migrate a SQLite database under var/, load deterministic demo data, start the worker in the
# background and serve on 127.0.0.1:8000. Ctrl-C stops both.
demo: $(STAMP) var/secret_key
	@export SECRET_KEY="$$(cat var/secret_key)" DATABASE_URL="$${DATABASE_URL:-sqlite:///$(CURDIR)/var/yingji.sqlite3}"; \
	$(BIN)/yingji demo && \
	{ $(BIN)/yingji worker & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	  echo "服务地址 (serving at): http://127.0.0.1:8000/"; \
	  $(BIN)/yingji serve 127.0.0.1:8000; }

# The whole suite (unit, API, pages and headless-browser tests) with coverage.
# DATABASE_URL selects the database (SQLite in a temp dir by default; CI also runs PostgreSQL).
test: $(STAMP)
	@export SECRET_KEY=test-secret YINGJI_STRICT_AUDIT=1 YINGJI_FAST_HASHER=1 YINGJI_COMPRESS_STATIC=0; \
	$(BIN)/pytest -n 2 --dist loadgroup --cov --cov-report=term:skip-covered --cov-report=xml:var/coverage.xml $(PYTEST_ARGS)

# The schemathesis run of tests/api/test_schemathesis.py, larger: 50 examples per operation, valid and
# invalid requests, as all eight personas (nightly; `make test` runs 3 examples). FUZZ_EXAMPLES=N to change.
FUZZ_EXAMPLES ?= 50
fuzz: $(STAMP)
	@export SECRET_KEY=test-secret YINGJI_STRICT_AUDIT=1 YINGJI_FAST_HASHER=1 YINGJI_COMPRESS_STATIC=0 \
	YINGJI_SCHEMATHESIS_EXAMPLES=$(FUZZ_EXAMPLES); \
	$(BIN)/pytest -n 2 --dist loadgroup tests/api/test_schemathesis.py $(PYTEST_ARGS)

messages: $(STAMP)
	cd src/yingji && SECRET_KEY=x ../../$(BIN)/django-admin makemessages -l en --settings=yingji.settings && \
	SECRET_KEY=x ../../$(BIN)/django-admin compilemessages --settings=yingji.settings

clean-demo:
	rm -f var/yingji.sqlite3 var/yingji.sqlite3-wal var/yingji.sqlite3-shm
