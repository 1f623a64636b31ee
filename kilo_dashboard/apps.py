from django.apps import AppConfig


class KiloDashboardConfig(AppConfig):
    name = "kilo_dashboard"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .session_activity import note_sign_in

        user_logged_in.connect(note_sign_in, dispatch_uid="kilo_dashboard.note_sign_in")
