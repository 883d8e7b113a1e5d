from django.urls import path

from blog import views

app_name = "blog"

urlpatterns = [
    path("", views.article_list, name="list"),
    path("<int:pk>/", views.article_detail, name="detail"),
    path("manage/", views.article_manage_list, name="manage"),
    path("new/", views.article_create, name="create"),
    path("<int:pk>/edit/", views.article_update, name="update"),
    path("<int:pk>/delete/", views.article_delete, name="delete"),
]
