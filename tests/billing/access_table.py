"""Who may use each Billing URL: owners do everything, admins view and download, members 403,
outsiders 404. tests/billing/test_access.py proves this table; tests/test_access_matrix.py
imports its rows (matrix_specs) so the URLConf walk knows the billing URLs too.

Codes: 200 page, 302 after a POST (post/redirect/get) or a redirect, 400 malformed input.
"""

import hashlib
from types import SimpleNamespace

from django.core.files.base import ContentFile
from django.utils import timezone

from billing.models import (
    Document,
    DocumentKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    PromotionCode,
)

OWNER_ONLY_GET = {"owner": 200, "admin": 403, "member": 403, "outsider": 404}
VIEWERS_GET = {"owner": 200, "admin": 200, "member": 403, "outsider": 404}
OWNER_ONLY_POST = {"owner": 302, "admin": 403, "member": 403, "outsider": 404}

# url_name -> {"method": ..., persona: expected status}
ACCESS: dict[str, dict] = {
    "billing_tab": {"method": "GET", **VIEWERS_GET},
    "billing_history_csv": {"method": "GET", **VIEWERS_GET},
    "billing_document_download": {"method": "GET", **VIEWERS_GET},
    "billing_payment_row": {"method": "GET", **VIEWERS_GET},
    "billing_card_new": {"method": "GET", **OWNER_ONLY_GET},
    "billing_details": {"method": "GET", **OWNER_ONLY_GET},
    "billing_payment_authenticate": {"method": "GET", **OWNER_ONLY_POST},  # succeeded: redirect
    "billing_card_confirm": {"method": "POST", **OWNER_ONLY_POST},
    "billing_card_default": {"method": "POST", **OWNER_ONLY_POST},
    "billing_card_remove": {"method": "POST", **OWNER_ONLY_POST},
    "billing_buy_credits": {"method": "POST", **OWNER_ONLY_POST},
    "billing_promotion_redeem": {"method": "POST", **OWNER_ONLY_POST},
    "billing_alert_update": {"method": "POST", **OWNER_ONLY_POST},
    "billing_auto_top_up": {"method": "POST", **OWNER_ONLY_POST},
}

# Pages that ask before a POST acts ("Remove Visa ···· 4242?"): who may see them.
CONFIRM_PAGES: dict[str, dict] = {
    "billing_card_remove": OWNER_ONLY_GET,
}

# The audit action an allowed call records (proves the call did its work): a POST's change,
# or the export/download itself.
RECORDS = {
    "billing_promotion_redeem": "billing.promotion_redeemed",
    "billing_alert_update": "billing.low_balance_alert_updated",
    "billing_auto_top_up": "billing.auto_top_up_updated",
    "billing_history_csv": "export.billing_history_csv",
    "billing_document_download": "document.downloaded",
}


def _card(org) -> PaymentMethod:  # noqa: ANN001
    card, _ = PaymentMethod.objects.get_or_create(
        organization=org,
        stripe_id=f"pm_matrix_{org.slug}",
        defaults={"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
    )
    return card


def _payment(org) -> Payment:  # noqa: ANN001
    payment, _ = Payment.objects.get_or_create(
        organization=org,
        stripe_payment_intent_id=f"pi_matrix_{org.slug}",
        defaults={
            "purpose": "credit_purchase",
            "amount_cents": 100_00,
            "status": PaymentStatus.SUCCEEDED,
        },
    )
    return payment


def _document(org) -> Document:  # noqa: ANN001
    document = Document.objects.filter(organization=org).first()
    if document is None:
        pdf = b"%PDF-1.7\n% access-table stand-in\n"
        document = Document(
            organization=org,
            kind=DocumentKind.STATEMENT,
            sequence=1,
            period_start=timezone.now().date().replace(day=1),
            period_end=timezone.now().date().replace(day=1),
            sha256=hashlib.sha256(pdf).hexdigest(),
            issued_at=timezone.now(),
        )
        document.file.save("matrix.pdf", ContentFile(pdf), save=False)
        document.save()
    return document


def _promo_data(world: SimpleNamespace) -> dict:
    PromotionCode.objects.get_or_create(
        code="MATRIX25", defaults={"amount_microdollars": 25_000_000}
    )
    return {"code": "matrix25"}


DATA = {
    "billing_card_confirm": lambda w: {"setup_intent": "seti_doesnotexist"},
    # The confirmation page's post: the amount seen and confirmed (without it: the page, 200).
    "billing_buy_credits": lambda w: {"preset": "10000", "confirm_cents": "10000"},
    "billing_promotion_redeem": _promo_data,
    "billing_alert_update": lambda w: {"enabled": "on", "threshold": "25", "recipients": ""},
    "billing_auto_top_up": lambda w: {"threshold": "10", "amount": "100"},
}

PATH_PARAMS = {
    "card_id": lambda w: _card(w.org).public_id,
    "payment_id": lambda w: _payment(w.org).public_id,
    "document_id": lambda w: _document(w.org).public_id,
}


def matrix_specs(spec_cls, row_cls) -> dict:  # noqa: ANN001
    """The rows in tests/test_access_matrix.py's own format."""
    specs = {}
    for name, row in ACCESS.items():
        codes = row_cls(owner=row["owner"], admin=row["admin"], member=row["member"])
        key = "get" if row["method"] == "GET" else "post"
        rows = {key: codes}
        if name in CONFIRM_PAGES:
            page = CONFIRM_PAGES[name]
            rows["get"] = row_cls(owner=page["owner"], admin=page["admin"], member=page["member"])
        specs[name] = spec_cls(**rows, data=DATA.get(name, lambda w: {}), records=RECORDS.get(name))
    return specs
