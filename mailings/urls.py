from django.urls import path

from mailings.views import home

urlpatterns = [
    path("", home.home, name="home"),
]
