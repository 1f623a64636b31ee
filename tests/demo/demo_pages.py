"""Run by test_demo_settings.py in a process with `make run`'s environment, after collectstatic.

Requests a page that does not exist, a page that fails, and the plotly bundle, through the whole
middleware stack; prints what came back as one JSON line.
"""

import json

import django


def main() -> None:
    django.setup()
    from django.conf import settings
    from django.templatetags.static import static
    from django.test import Client
    from django.urls import clear_url_caches, path

    import kilo_dashboard.urls as urls

    def broken(request):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")

    urls.urlpatterns.append(path("__broken__", broken))
    clear_url_caches()

    client = Client(raise_request_exception=False)
    missing = client.get("/orgs/no-such-org/usage/../../no-such-page/")
    failed = client.get("/__broken__")
    health = client.get("/healthz")
    plotly_url = static("js/plotly-cartesian.min.js")
    bundle = client.get(plotly_url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    body = b"".join(bundle.streaming_content) if bundle.streaming else bundle.content
    print(
        json.dumps(
            {
                "debug": settings.DEBUG,
                "celery_eager": settings.CELERY_TASK_ALWAYS_EAGER,
                "broker": settings.CELERY_BROKER_URL,
                "missing": [missing.status_code, missing.content.decode()],
                "failed": [failed.status_code, failed.content.decode()],
                "health": health.json(),
                "plotly_url": plotly_url,
                "plotly": {
                    "status": bundle.status_code,
                    "encoding": bundle.get("Content-Encoding", ""),
                    "cache": bundle.get("Cache-Control", ""),
                    "bytes": len(body),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
