from django.apps import AppConfig


def _bound_sites(assignment_id: int) -> list[int]:
    from .models import SiteBinding

    return list(SiteBinding.objects.filter(assignment_id=assignment_id, revoked_at__isnull=True)
                .values_list("site_id", flat=True))


class RegistryConfig(AppConfig):
    name = "yingji.registry"
    label = "registry"
    verbose_name = "监管对象库"

    def ready(self):
        from yingji.core.scoping import set_site_binding_loader

        set_site_binding_loader(_bound_sites)

        from . import contrib

        contrib.register()
