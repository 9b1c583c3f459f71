from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "yingji.supervision"
    label = "supervision"
    verbose_name = "重大隐患挂牌督办"

    def ready(self):
        from . import contrib

        contrib.register()
