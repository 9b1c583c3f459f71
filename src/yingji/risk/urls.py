from django.urls import path

from . import views

app_name = "risk"
urlpatterns = [
    path("risk/rules/", views.rules, name="rules"),
    path("risk/rules/edit/", views.rules_edit, name="rules_edit"),
    path("risk/rules/history/", views.rules_history, name="rules_history"),
    path("risk/rules/v<int:version>/", views.ruleset_detail, name="ruleset_detail"),
    path("risk/sites/<int:site_id>/", views.site_risk, name="site"),
    path("risk/sites/<int:site_id>/assess/", views.site_assess, name="site_assess"),
]
