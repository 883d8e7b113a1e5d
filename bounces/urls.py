from django.urls import path

from bounces import views

app_name = "bounces"

urlpatterns = [
    path("", views.mailbox_home, name="mailbox"),
    path("edit/", views.mailbox_edit, name="mailbox_edit"),
    path("check/", views.mailbox_check, name="mailbox_check"),
    path("all/", views.mailbox_list, name="mailbox_list"),
    path("<int:pk>/", views.mailbox_detail, name="mailbox_detail"),
]
