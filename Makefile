# Developer and CI entry points (DESIGN.md §5): make run | test | bench | stress.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
MO := crm/translations/en/LC_MESSAGES/messages.mo

.PHONY: run serve test bench stress translations extract-messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(RUN_STAMP)

$(MO): crm/translations/en/LC_MESSAGES/messages.po $(RUN_STAMP)
	$(BIN)/pybabel -q compile -d crm/translations

translations: $(MO)

instance/secret_key:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

run: $(RUN_STAMP) $(MO) instance/secret_key
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	$(FLASK) run --host 127.0.0.1 --port 5000

# Production: gunicorn (gunicorn.conf.py) after refusing an unsafe configuration.
serve: $(RUN_STAMP) $(MO)
	$(FLASK) check-deploy
	$(FLASK) db upgrade
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(DEV_STAMP) $(MO)
	$(BIN)/ruff check --quiet --select F,E,W --line-length 100 --exclude migrations crm tests wsgi.py
	$(BIN)/python -m pytest

bench: $(DEV_STAMP) $(MO)
	$(BIN)/python -m tests.bench

# gunicorn under load and failure (tests/stress.py): a fresh SQLite database, and a
# fresh PostgreSQL one on the server DATABASE_URL names when it is set. About 3 minutes.
stress: $(DEV_STAMP) $(MO)
	$(BIN)/python -m tests.stress

# Re-extract translatable strings after changing UI text, then translate en.
extract-messages: $(RUN_STAMP)
	$(BIN)/pybabel -q extract --ignore-dirs ".* __pycache__" -F crm/translations/babel.cfg \
		-k _l -k N_ -o crm/translations/messages.pot .
	$(BIN)/pybabel -q update -i crm/translations/messages.pot -d crm/translations
