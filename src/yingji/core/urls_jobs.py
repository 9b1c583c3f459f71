from django.urls import path

from . import views_jobs

app_name = "jobs"
urlpatterns = [
    path("jobs/", views_jobs.job_list, name="list"),
    path("jobs/export-audit/", views_jobs.export_audit, name="export_audit"),
    path("jobs/<int:pk>/", views_jobs.job_detail, name="detail"),
    path("jobs/<int:pk>/progress/", views_jobs.job_progress, name="progress"),
    path("jobs/<int:pk>/cancel/", views_jobs.job_cancel, name="cancel"),
    path("jobs/<int:pk>/download/", views_jobs.job_download, name="download"),
]
