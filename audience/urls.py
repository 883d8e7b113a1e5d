from django.urls import path

from audience import views
from audience.exports import views as exports
from audience.imports import views as imports

app_name = "audience"

urlpatterns = [
    path("lists/", views.list_index, name="list_index"),
    path("lists/new/", views.list_create_view, name="list_create"),
    path("lists/<int:pk>/", views.list_detail, name="list_detail"),
    path("lists/<int:pk>/edit/", views.list_update_view, name="list_update"),
    path("lists/<int:pk>/delete/", views.list_delete_view, name="list_delete"),
    path("lists/<int:pk>/remove-member/", views.list_member_remove, name="list_member_remove"),
    path("lists/bulk/", views.bulk_membership, name="bulk_membership"),
    path("audience/picker/", views.picker, name="picker"),
    path("audience/count/", views.audience_count_view, name="audience_count"),
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_create, name="import_create"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/rejected.csv", imports.import_rejected, name="import_rejected"),
    path("export/recipients/", exports.export_recipients, name="export_recipients"),
    path("export/attempts/<int:pk>/", exports.export_attempt, name="export_attempt"),
    path("export/stats/", exports.export_stats, name="export_stats"),
]
