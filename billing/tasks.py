"""Thin Celery wrappers: each takes ids and calls one service."""

from celery import shared_task

from . import documents, emails, reconcile, refunds, services, usage_debits


@shared_task(
    name="billing.tasks.render_document",
    autoretry_for=(Exception,),  # rendering is idempotent: a retry never issues twice
    retry_backoff=True,
    max_retries=5,
)
def render_document(document_id: int) -> str:
    return documents.document_render(document_id).number


@shared_task(name="billing.tasks.issue_monthly_statements")
def issue_monthly_statements() -> int:
    from organizations.models import Organization

    # Documents whose rendering failed for good (retries exhausted, worker lost) get another try.
    for document_id in documents.unissued_document_ids():
        render_document.delay(document_id)
    count = 0
    for organization_id, period_start in documents.statements_due():
        organization = Organization.objects.get(pk=organization_id)
        if documents.statement_request(organization, period_start):
            count += 1
    return count


@shared_task(name="billing.tasks.reconcile_stripe")
def reconcile_stripe() -> dict:
    return reconcile.reconcile()


@shared_task(name="billing.tasks.run_auto_top_up")
def run_auto_top_up(organization_id: int) -> None:
    services.auto_top_up_run(organization_id)


@shared_task(name="billing.tasks.send_low_balance_email")
def send_low_balance_email(organization_id: int, balance_microdollars: int) -> None:
    emails.send_low_balance(organization_id, balance_microdollars)


@shared_task(name="billing.tasks.send_auto_top_up_failed_email")
def send_auto_top_up_failed_email(organization_id: int) -> None:
    emails.send_auto_top_up_failed(organization_id)


@shared_task(name="billing.tasks.post_usage_debits")
def post_usage_debits() -> int:
    return usage_debits.usage_debits_post_recent()


@shared_task(name="billing.tasks.post_usage_debits_all_days")
def post_usage_debits_all_days() -> int:
    return usage_debits.usage_debits_post_all()


@shared_task(name="billing.tasks.finish_refunds")
def finish_refunds() -> dict:
    return refunds.refunds_finish_stale()
