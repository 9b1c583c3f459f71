from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from .api import api

handler404 = "yingji.core.views.not_found"
handler500 = "yingji.core.views.server_error"

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # browsers ask for /favicon.ico whatever the page says
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("core/favicon.ico"))),
    path("", include("yingji.core.urls_attachments")),
    path("", include("yingji.core.urls_jobs")),
    path("", include("yingji.core.urls_exports")),
    path("", include("yingji.registry.urls_imports")),
    path("", include("yingji.registry.urls_map")),
    path("", include("yingji.registry.urls_activity")),
    path("", include("yingji.registry.urls")),
    path("", include("yingji.risk.urls")),
    path("", include("yingji.hazards.urls")),
    path("", include("yingji.checklists.urls")),
    path("", include("yingji.inspections.urls")),
    path("", include("yingji.supervision.urls")),
    path("", include("yingji.stats.urls")),
    path("", include("yingji.core.urls_notifications")),
    path("", include("yingji.core.urls")),
]
