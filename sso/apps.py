from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single Sign-On"

    def ready(self) -> None:
        from allauth.account.signals import user_logged_in

        from .receivers import on_user_logged_in

        user_logged_in.connect(on_user_logged_in, dispatch_uid="sso_on_user_logged_in")
