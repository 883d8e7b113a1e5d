from django.urls import path

from mailings import views

urlpatterns = [
    path("", views.home, name="home"),
]
