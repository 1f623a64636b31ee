"""Django's admin app with our admin site (kilo_dashboard.admin_site) as the default one."""

from django.contrib.admin.apps import AdminConfig


class KiloAdminConfig(AdminConfig):
    default_site = "kilo_dashboard.admin_site.KiloAdminSite"
