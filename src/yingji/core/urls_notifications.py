from django.urls import path

from . import views_notifications as views

app_name = "notifications"
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/badge/", views.badge, name="badge"),
    path("inbox/read-all/", views.read_all, name="read_all"),
    path("inbox/<int:pk>/read/", views.read, name="read"),
    path("inbox/<int:pk>/go/", views.go, name="go"),
]
