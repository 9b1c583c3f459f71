from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _bound_sites(assignment) -> list[int]:
    from .models import SiteBinding

    return list(SiteBinding.objects.filter(assignment=assignment, revoked_at__isnull=True)
                .values_list("site_id", flat=True))


class RegistryConfig(AppConfig):
    name = "yingji.registry"
    label = "registry"
    verbose_name = "监管对象库"

    def ready(self):
        from yingji.core import roles
        from yingji.core.context_processors import NAVIGATION
        from yingji.core.scoping import set_site_binding_loader

        set_site_binding_loader(_bound_sites)
        entry = (_("监管对象"), "registry:list", roles.VIEW)
        if not any(item[1] == entry[1] for item in NAVIGATION):
            home = next((i for i, item in enumerate(NAVIGATION) if item[1] == "core:home"), -1)
            NAVIGATION.insert(home + 1, entry)
