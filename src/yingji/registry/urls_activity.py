from django.urls import path

from . import views_activity

app_name = "registry_activity"

urlpatterns = [
    path("sites/<int:pk>/activity/", views_activity.site_activity, name="activity"),
]
