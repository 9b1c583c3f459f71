from django.urls import path

from . import notices, views

app_name = "supervision"

urlpatterns = [
    path("supervision/", views.listing_list, name="list"),
    path("supervision/new/", views.listing_new, name="new"),
    path("supervision/<int:pk>/", views.listing_detail, name="detail"),
    path("supervision/<int:pk>/notice.docx", notices.notice_view, name="notice"),
    path("supervision/<int:pk>/<str:action>/", views.listing_action, name="action"),
    path("supervision/extensions/<int:pk>/decide/", views.extension_decide, name="decide"),
    # the one page without sign-in: the published list of listed major hazards
    path("public/major-hazards/", views.public_list, name="public_list"),
    path("public/major-hazards/<int:pk>/", views.public_detail, name="public_detail"),
]
