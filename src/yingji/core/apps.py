from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "yingji.core"
    label = "core"
    verbose_name = "平台基础"

    def ready(self):
        from . import notifications  # noqa: F401 - registers the core.send_notifications job handler
