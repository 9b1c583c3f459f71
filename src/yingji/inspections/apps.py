from django.apps import AppConfig


class InspectionsConfig(AppConfig):
    name = "yingji.inspections"
    label = "inspections"
    verbose_name = "检查与专项行动"

    def ready(self):
        from . import contrib

        contrib.register()
