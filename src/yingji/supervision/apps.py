from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "yingji.supervision"
    label = "supervision"
    verbose_name = "重大隐患挂牌督办"
