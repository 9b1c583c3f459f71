from django.urls import path

from . import views_attachments as views

app_name = "attachments"
urlpatterns: list = [
    path("attachments/upload/<str:model>/<int:object_id>/", views.upload, name="upload"),
    path("attachments/<int:pk>/", views.download, name="download"),
    path("attachments/<int:pk>/thumb/", views.thumb, name="thumb"),
    path("attachments/<int:pk>/archive/", views.archive, name="archive"),
]
