from django.urls import path

from . import views

app_name = "stats"

urlpatterns = [
    path("stats/", views.index, name="index"),
    path("stats/refresh/", views.refresh, name="refresh"),
    path("stats/charts/<slug:chart>.xlsx", views.chart_xlsx, name="chart_xlsx"),
]
