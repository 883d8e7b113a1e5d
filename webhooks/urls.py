from django.urls import path

from webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.endpoint_list, name="endpoint_list"),
    path("new/", views.endpoint_create_view, name="endpoint_create"),
    path("<int:pk>/", views.endpoint_detail, name="endpoint_detail"),
    path("<int:pk>/edit/", views.endpoint_update_view, name="endpoint_update"),
    path("<int:pk>/delete/", views.endpoint_delete_view, name="endpoint_delete"),
    path("<int:pk>/enable/", views.endpoint_enable_view, name="endpoint_enable"),
    path("<int:pk>/disable/", views.endpoint_disable_view, name="endpoint_disable"),
    path("<int:pk>/rotate-secret/", views.endpoint_rotate_secret_view, name="endpoint_rotate_secret"),
]
