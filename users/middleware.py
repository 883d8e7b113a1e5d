"""Ends the session of a user a manager has blocked, on their next request, and tells them why."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from users.models import User

logger = logging.getLogger(__name__)


class BlockedUserLogoutMiddleware:
    """Put after AuthenticationMiddleware and MessageMiddleware.

    ModelBackend.get_user already turns a blocked (inactive) user's session
    into an anonymous visitor; this looks the session's user up in that one
    case (and for a backend that lets inactive users in), flushes the session
    and sends them to the login page with the reason.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        blocked = self._blocked_user(request)
        if blocked is None:
            return self.get_response(request)
        logout(request)
        message = _("Ваша учётная запись заблокирована, сеанс завершён.")
        if blocked.block_reason:
            message += " " + _("Причина: %(reason)s") % {"reason": blocked.block_reason}
        messages.error(request, message)
        logger.info("blocked user logged out: id=%s", blocked.pk)
        return redirect(settings.LOGIN_URL)

    @staticmethod
    def _blocked_user(request: HttpRequest) -> User | None:
        user = request.user
        if user.is_authenticated:
            return user if user.blocked_at is not None else None
        session_user_id = request.session.get(SESSION_KEY)
        if session_user_id is None:
            return None
        try:
            pk = User._meta.pk.to_python(session_user_id)
        except ValidationError:  # a tampered session value: AuthenticationMiddleware already ignored it
            return None
        return User.objects.filter(pk=pk, blocked_at__isnull=False).first()
