from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("sites/", views.site_list, name="list"),
    path("sites/new/", views.site_create, name="create"),
    path("sites/<int:pk>/", views.site_detail, name="detail"),
    path("sites/<int:pk>/edit/", views.site_edit, name="edit"),
    path("sites/<int:pk>/archive/", views.site_archive, name="archive"),
    path("sites/<int:pk>/host/", views.site_set_host, name="set_host"),
    path("sites/<int:pk>/managers/", views.site_bind_manager, name="bind_manager"),
    path("sites/<int:pk>/managers/<int:binding_pk>/revoke/", views.site_unbind_manager, name="unbind_manager"),
]
