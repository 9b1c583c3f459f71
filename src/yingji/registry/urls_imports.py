from django.urls import path

from . import views_imports

app_name = "registry_imports"
urlpatterns = [
    path("sites/import/", views_imports.import_start, name="start"),
    path("sites/import/template/", views_imports.import_template, name="template"),
    path("sites/import/<int:pk>/", views_imports.import_job, name="job"),
    path("sites/import/<int:pk>/status/", views_imports.import_status, name="status"),
    path("sites/import/<int:pk>/confirm/", views_imports.import_confirm, name="confirm"),
    path("sites/export/", views_imports.export, name="export"),
]
