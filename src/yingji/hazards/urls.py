from django.urls import path

from . import notices, views

app_name = "hazards"
urlpatterns = [
    path("hazards/", views.hazard_list, name="list"),
    path("hazards/report/", views.hazard_report, name="report"),
    path("hazards/<int:pk>/", views.hazard_detail, name="detail"),
    path("hazards/<int:pk>/notice.docx", notices.notice_view, name="notice"),
    path("hazards/<int:pk>/<str:action>/", views.hazard_action, name="action"),
]
