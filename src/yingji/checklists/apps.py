from django.apps import AppConfig


class ChecklistsConfig(AppConfig):
    name = "yingji.checklists"
    label = "checklists"
    verbose_name = "模块化检查清单"
