# The two commands of the README: `make run` (demo) and `make test` (whole suite).
SHELL := /bin/bash
PY := .venv/bin/python
TEST_ENV := DJANGO_ENV=test \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/kilo} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

.PHONY: run demo-env test lint fmt check-deploy screenshots

# The demo runs as newcomers should see it: DEBUG off (styled error pages, static files collected,
# hashed and compressed, served by WhiteNoise), SQLite, a real Celery worker and beat on an
# embedded broker, and localstripe; all of them stop with `make run`.
DEMO_PORT ?= 8000
DEMO_ENV := DJANGO_ENV=development DEBUG=false CELERY_BROKER_URL=filesystem://localhost// \
	DASHBOARD_URL=http://127.0.0.1:$(DEMO_PORT) SITE_URL=http://127.0.0.1:$(DEMO_PORT)

run:
	@scripts/bootstrap-venv.sh demo
	@scripts/pdf-deps.sh
	@$(DEMO_ENV) $(PY) manage.py migrate --no-input -v0
	@$(DEMO_ENV) $(PY) manage.py collectstatic --no-input -v0
	@# localstripe (fake Stripe), the Celery worker and beat run beside the dashboard and stop with it.
	@# The worker starts after seeding (one long SQLite transaction); what seeding queued waits for it.
	@$(DEMO_ENV) scripts/with-localstripe.sh bash -c '$(PY) manage.py sync_stripe_plans -v0 && $(PY) manage.py sync_model_catalog -v0 && $(PY) manage.py seed_demo && exec scripts/with-worker.sh $(PY) manage.py runserver 127.0.0.1:$(DEMO_PORT)'

# The environment `make run` gives every process (tests/demo/ run the demo's settings with it).
demo-env:
	@echo '$(DEMO_ENV)'

test:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@scripts/test-idp.sh
	@scripts/saml-deps.sh
	@$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run -v0
	@$(PY) -m ruff check .
	@$(TEST_ENV) $(PY) -m pytest -n auto -q

# The stateful money test with many more examples than `make test` runs (tests/money, README).
# --runxfail: a known failure is reported as a failure here, with Hypothesis's minimal example.
.PHONY: test-money-long
test-money-long:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@$(TEST_ENV) MONEY_MACHINE_LONG=1 $(PY) -m pytest -n 0 -q --runxfail tests/money/test_money_machine.py

lint:
	@$(PY) -m ruff check . && $(PY) -m ruff format --check .

fmt:
	@$(PY) -m ruff check --fix . && $(PY) -m ruff format .

# Production mode must pass Django's deployment checks.
check-deploy:
	@DJANGO_ENV=production SECRET_KEY=$$(head -c 48 /dev/urandom | base64) ALLOWED_HOSTS=kilo.example.com \
	  SITE_URL=https://kilo.example.com DATABASE_URL=postgres://postgres@127.0.0.1:5432/kilo \
	  REDIS_URL=redis://127.0.0.1:6379/0 EMAIL_HOST=smtp.example.com \
	  STRIPE_SECRET_KEY=sk_live_x STRIPE_PUBLISHABLE_KEY=pk_live_x STRIPE_WEBHOOK_SECRET=whsec_x \
	  SSO_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	  $(PY) manage.py check --deploy --fail-level WARNING

# Billing benchmarks (PDF p95, monthly statement run for 1,000 orgs, webhook p99): see BENCHMARKS.md.
.PHONY: bench-billing
bench-billing:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@DJANGO_ENV=development DEBUG=false $(PY) manage.py collectstatic --no-input -v0  # DEBUG off serves hashed files
	@$(TEST_ENV) $(PY) bench/billing_bench.py

# Usage debits (billing claims rolled-up days): first posting, nightly and minutely reruns.
.PHONY: bench-usage-debits
bench-usage-debits:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@DJANGO_ENV=development DEBUG=false $(PY) manage.py collectstatic --no-input -v0  # DEBUG off serves hashed files
	@$(TEST_ENV) $(PY) bench/usage_debits_bench.py

# Usage benchmarks (ingestion through gunicorn vs COPY as the database grows, rollup cost on
# worst-case data, every Usage view over HTTP) on a separate database, BENCH_DATABASE_URL
# (default kilo_bench_scale_<BENCH_SCALE>); BENCH_SCALE=small (default) or full: see BENCHMARKS.md.
.PHONY: bench
bench:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@DJANGO_ENV=development DEBUG=false $(PY) manage.py collectstatic --no-input -v0  # DEBUG off serves hashed files
	@$(PY) bench/run_usage.py

# Time to a settled Usage page in Chromium (cold and warm cache), against the running demo
# (`make run` in another terminal; BASE_URL to point elsewhere): see BENCHMARKS.md.
BASE_URL ?= http://127.0.0.1:$(DEMO_PORT)
.PHONY: bench-browser
bench-browser:
	@$(PY) bench/usage_page_browser.py $(BASE_URL)

# Providers benchmarks (tab p95 with the full catalog and filters, /api/v1/authorize p99) on
# their own database, BENCH_PROVIDERS_DATABASE_URL (default kilo_bench_prov): see BENCHMARKS.md.
.PHONY: bench-providers
bench-providers:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@DJANGO_ENV=development DEBUG=false $(PY) manage.py collectstatic --no-input -v0  # DEBUG off serves hashed files
	@REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) bench/bench_providers.py

# Audit logs benchmark (tab p95 at 5M events, default and filtered; 1M-event CSV export memory)
# on its own database, BENCH_AUDIT_DATABASE_URL (default kilo_audit_bench). Scale knobs:
# BENCH_AUDIT_EVENTS=5000000 BENCH_AUDIT_EXPORT=1000000. See BENCHMARKS.md.
.PHONY: bench-audit
bench-audit:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@DJANGO_ENV=development DEBUG=false $(PY) manage.py collectstatic --no-input -v0  # DEBUG off serves hashed files
	@$(PY) bench/run_audit.py
