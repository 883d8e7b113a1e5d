from django.urls import include, path

from mailings.views import attempts, home, mailings, messages, moderation, progress, recipients, runs, stats

# Section pages live in the "mailings" namespace ({% url 'mailings:mailing_list' %}); the home page stays "home".
section_patterns = [
    path("recipients/", recipients.recipient_list, name="recipient_list"),
    path("recipients/new/", recipients.recipient_create, name="recipient_create"),
    path("recipients/<int:pk>/", recipients.recipient_detail, name="recipient_detail"),
    path("recipients/<int:pk>/edit/", recipients.recipient_update, name="recipient_update"),
    path("recipients/<int:pk>/delete/", recipients.recipient_delete, name="recipient_delete"),
    path("messages/", messages.message_list, name="message_list"),
    path("messages/new/", messages.message_create, name="message_create"),
    path("messages/<int:pk>/", messages.message_detail, name="message_detail"),
    path("messages/<int:pk>/edit/", messages.message_update, name="message_update"),
    path("messages/<int:pk>/delete/", messages.message_delete, name="message_delete"),
    path("mailings/", mailings.mailing_list, name="mailing_list"),
    path("mailings/new/", mailings.mailing_create, name="mailing_create"),
    path("mailings/<int:pk>/", mailings.mailing_detail, name="mailing_detail"),
    path("mailings/<int:pk>/edit/", mailings.mailing_update, name="mailing_update"),
    path("mailings/<int:pk>/delete/", mailings.mailing_delete, name="mailing_delete"),
    path("mailings/<int:pk>/send/", runs.mailing_send, name="mailing_send"),
    path("mailings/<int:pk>/progress/", progress.mailing_progress, name="mailing_progress"),
    path("mailings/<int:pk>/disable/", moderation.mailing_disable, name="mailing_disable"),
    path("mailings/<int:pk>/enable/", moderation.mailing_enable, name="mailing_enable"),
    path("attempts/", attempts.attempt_list, name="attempt_list"),
    path("attempts/<int:pk>/", attempts.attempt_detail, name="attempt_detail"),
    path("attempts/<int:pk>/retry/", runs.attempt_retry, name="attempt_retry"),
    path("attempts/<int:pk>/progress/", progress.attempt_progress, name="attempt_progress"),
    path("stats/", stats.stats, name="stats"),
]

urlpatterns = [
    path("", home.home, name="home"),
    path("", include((section_patterns, "mailings"))),
]
