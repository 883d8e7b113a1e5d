from django.urls import path

from senders import views

app_name = "senders"

urlpatterns = [
    path("", views.smtp_account_list, name="smtp_account_list"),
    path("new/", views.smtp_account_create_view, name="smtp_account_create"),
    path("<int:pk>/", views.smtp_account_detail, name="smtp_account_detail"),
    path("<int:pk>/edit/", views.smtp_account_update_view, name="smtp_account_update"),
    path("<int:pk>/delete/", views.smtp_account_delete_view, name="smtp_account_delete"),
    path("<int:pk>/check/", views.smtp_account_check, name="smtp_account_check"),
    path("<int:pk>/disable/", views.smtp_account_disable_view, name="smtp_account_disable"),
    path("<int:pk>/enable/", views.smtp_account_enable_view, name="smtp_account_enable"),
]
