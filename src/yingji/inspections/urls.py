from django.urls import path

from . import views

app_name = "inspections"

urlpatterns = [
    path("inspections/", views.inspection_list, name="list"),
    path("inspections/new/", views.inspection_start, name="start"),
    path("inspections/<int:pk>/", views.inspection_detail, name="detail"),
    path("inspections/<int:pk>/results/<int:rid>/", views.result_answer, name="answer"),
    path("inspections/<int:pk>/results/<int:rid>/hazard/", views.result_hazard, name="confirm_hazard"),
    path("inspections/<int:pk>/results/<int:rid>/fix/", views.result_fix, name="fix_on_spot"),
    path("inspections/<int:pk>/complete/", views.inspection_complete, name="complete"),
    path("inspections/<int:pk>/pass-remaining/", views.inspection_pass_remaining, name="pass_remaining"),
    path("inspections/<int:pk>/archive/", views.inspection_archive, name="archive"),
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="campaign_edit"),
    path("campaigns/<int:pk>/assignments/", views.assignment_add, name="assignment_add"),
    path("campaigns/<int:pk>/assignments/<int:aid>/revoke/", views.assignment_revoke, name="assignment_revoke"),
    path("campaigns/<int:pk>/progress.xlsx", views.campaign_export, name="campaign_export"),
    path("campaigns/<int:pk>/archive/", views.campaign_archive, name="campaign_archive"),
    path("campaigns/<int:pk>/<str:action>/", views.campaign_status, name="campaign_status"),
]
