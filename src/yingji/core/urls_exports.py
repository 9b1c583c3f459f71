from django.urls import path

from . import views_exports

app_name = "exports"
urlpatterns = [
    path("exports/<slug:name>/", views_exports.export, name="export"),
]
