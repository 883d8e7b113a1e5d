from django.urls import path

from suppressions import views

app_name = "suppressions"

urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("unsubscribe/<str:token>/one-click/", views.one_click, name="one_click"),
    path("suppressions/", views.suppression_index, name="suppression_list"),
    path("suppressions/<int:pk>/remove/", views.suppression_remove, name="suppression_remove"),
]
