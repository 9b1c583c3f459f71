from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HazardsConfig(AppConfig):
    name = "yingji.hazards"
    label = "hazards"
    verbose_name = "隐患排查治理"

    def ready(self):
        from yingji.core import roles
        from yingji.core.context_processors import NAVIGATION

        entry = (_("隐患排查治理"), "hazards:list", roles.VIEW)
        if not any(item[1] == entry[1] for item in NAVIGATION):
            after = next((i for i, item in enumerate(NAVIGATION) if item[1] == "registry:list"), -1)
            if after < 0:
                after = next((i for i, item in enumerate(NAVIGATION) if item[1] == "core:home"), -1)
            NAVIGATION.insert(after + 1, entry)
