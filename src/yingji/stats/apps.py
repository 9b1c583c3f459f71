from django.apps import AppConfig


class StatsConfig(AppConfig):
    name = "yingji.stats"
    label = "stats"
    verbose_name = "统计分析"

    def ready(self):
        from . import contrib

        contrib.register()
