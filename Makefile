# The two commands of the README: `make run` (demo) and `make test` (whole suite).
SHELL := /bin/bash
PY := .venv/bin/python
TEST_ENV := DJANGO_ENV=test \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/kilo} \
	REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/0}

.PHONY: run test lint fmt check-deploy screenshots

run:
	@scripts/bootstrap-venv.sh demo
	@scripts/pdf-deps.sh
	@$(PY) manage.py migrate --no-input -v0
	@# localstripe (fake Stripe) runs beside the dashboard and stops with it.
	@scripts/with-localstripe.sh bash -c '$(PY) manage.py sync_stripe_plans -v0 && $(PY) manage.py seed_demo && $(PY) manage.py runserver 127.0.0.1:8000'

test:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run -v0
	@$(PY) -m ruff check .
	@$(TEST_ENV) $(PY) -m pytest -n auto -q

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
	  $(PY) manage.py check --deploy --fail-level WARNING

# Billing benchmarks (PDF p95, monthly statement run for 1,000 orgs, webhook p99): see BENCHMARKS.md.
.PHONY: bench-billing
bench-billing:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@$(TEST_ENV) $(PY) bench/billing_bench.py

# Usage benchmarks (ingestion through gunicorn vs COPY, Usage tab at 10M events, rollup
# catch-up) on a separate database, BENCH_DATABASE_URL (default kilo_bench): see BENCHMARKS.md.
.PHONY: bench
bench:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@$(PY) bench/run_usage.py

# Audit logs benchmark (tab p95 at 5M events, default and filtered; 1M-event CSV export memory)
# on its own database, BENCH_AUDIT_DATABASE_URL (default kilo_audit_bench). Scale knobs:
# BENCH_AUDIT_EVENTS=5000000 BENCH_AUDIT_EXPORT=1000000. See BENCHMARKS.md.
.PHONY: bench-audit
bench-audit:
	@scripts/bootstrap-venv.sh test
	@scripts/test-services.sh
	@$(PY) bench/run_audit.py
