from django.urls import path

from . import views_map

app_name = "registry_map"

urlpatterns = [
    path("sites/map/", views_map.site_map, name="map"),
]
