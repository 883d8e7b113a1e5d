from django.urls import path

from consents import views

app_name = "consents"

urlpatterns = [
    path("consents/wording/", views.wording_edit, name="wording_edit"),
    path("consents/wording/<int:pk>/", views.wording_detail, name="wording_detail"),
    path("consents/export/", views.export_all, name="export_all"),
    path("consents/export/recipients/<int:pk>/", views.export_recipient, name="export_recipient"),
    path("lists/<int:pk>/subscribe-form/", views.subscribe_settings, name="subscribe_settings"),
    # Public: the token is the form's unguessable address.
    path("subscribe/<str:token>/", views.subscribe, name="subscribe"),
    path("subscribe/<str:token>/sent/", views.subscribe_sent, name="subscribe_sent"),
    path("subscribe/confirm/<str:token>/", views.subscribe_confirm_view, name="subscribe_confirm"),
]
