from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "yingji.core"
    label = "core"
    verbose_name = "平台基础"

    def ready(self):
        from . import exports, jobs, notifications  # noqa: F401 - jobs gives Job its subjects; exports and
        #                                                     notifications register the core.export /
        #                                                     core.send_notifications job handlers
