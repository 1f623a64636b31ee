# Production image: gunicorn serving the dashboard; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
RUN pip install --no-cache-dir .
COPY . .
# collectstatic needs settings to import; these throwaway values are never used at run time.
RUN SECRET_KEY=build-only ALLOWED_HOSTS=build DATABASE_URL=sqlite:////tmp/build.db \
    REDIS_URL=redis://build:6379/0 SITE_URL=https://build EMAIL_HOST=build \
    STRIPE_SECRET_KEY=build STRIPE_PUBLISHABLE_KEY=build STRIPE_WEBHOOK_SECRET=build \
    python manage.py collectstatic --no-input
RUN useradd --create-home kilo && chown -R kilo /app
USER kilo
EXPOSE 8000
CMD ["gunicorn", "kilo_dashboard.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
