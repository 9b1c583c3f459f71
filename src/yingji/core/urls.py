from django.urls import path

from . import views, views_help

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("help/", views_help.help_page, name="help"),
    path("areas/", views.area_list, name="areas"),
    path("areas/<int:pk>/", views.area_detail, name="area_detail"),
    path("areas/<int:parent_pk>/new/", views.area_create, name="area_create"),
    path("areas/<int:pk>/edit/", views.area_edit, name="area_edit"),
    path("areas/<int:pk>/move/", views.area_move, name="area_move"),
    path("areas/<int:pk>/archive/", views.area_archive, name="area_archive"),
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_detail, name="user_detail"),
    path("users/<int:pk>/<slug:action>/", views.user_action, name="user_action"),
    path("orgs/", views.org_list, name="orgs"),
    path("audit/", views.audit_list, name="audit"),
]
