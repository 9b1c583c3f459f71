from django.urls import path

from . import views

app_name = "checklists"
urlpatterns = [
    path("checklists/", views.module_list, name="list"),
    path("checklists/new/", views.module_create, name="create"),
    path("checklists/<int:pk>/", views.module_detail, name="detail"),
    path("checklists/<int:pk>/edit/", views.module_edit, name="edit"),
    path("checklists/<int:pk>/archive/", views.module_archive, name="archive"),
    path("checklists/<int:pk>/revise/", views.module_revise, name="revise"),
    path("checklists/versions/<int:pk>/", views.version_detail, name="version"),
    path("checklists/versions/<int:pk>/publish/", views.version_publish, name="publish"),
    path("checklists/versions/<int:pk>/discard/", views.version_discard, name="discard"),
    path("checklists/versions/<int:pk>/sections/", views.section_add, name="section_add"),
    path("checklists/sections/<int:pk>/edit/", views.section_edit, name="section_edit"),
    path("checklists/sections/<int:pk>/move/<str:direction>/", views.section_move, name="section_move"),
    path("checklists/sections/<int:pk>/remove/", views.section_remove, name="section_remove"),
    path("checklists/sections/<int:pk>/items/new/", views.item_add, name="item_add"),
    path("checklists/items/<int:pk>/edit/", views.item_edit, name="item_edit"),
    path("checklists/items/<int:pk>/move/<str:direction>/", views.item_move, name="item_move"),
    path("checklists/items/<int:pk>/remove/", views.item_remove, name="item_remove"),
]
