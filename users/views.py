import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.contrib.messages.views import SuccessMessageMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from core.http import AuthenticatedHttpRequest
from core.params import clean_search
from moderation import services as moderation
from users import selectors, services
from users.axes import client_ip
from users.forms import (
    AccountDeleteForm,
    LoginForm,
    ModerationReasonForm,
    PasswordChangeForm,
    PasswordResetForm,
    ProfileForm,
    RegistrationForm,
    ResendConfirmationForm,
    SetPasswordForm,
)
from users.models import AuditEvent, User, UserState
from users.tokens import ConfirmationLinkError, confirmation_token_user, reset_token_generator

logger = logging.getLogger(__name__)

# The session backend would otherwise need to be named: there are two (axes, ModelBackend).
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # The same answer whether or not the address is registered (its owner is told by email).
        services.user_register(
            email=data["email"],
            password=data["password1"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            base_url=_base_url(request),
        )
        request.session["registered_email"] = data["email"]
        return redirect("users:register_done")
    return render(request, "users/register.html", {"form": form})


@require_safe
def register_done(request: HttpRequest) -> HttpResponse:
    return render(request, "users/register_done.html", {"email": request.session.get("registered_email", "")})


def _confirmation_failed(request: HttpRequest, error: ConfirmationLinkError) -> HttpResponse:
    form = ResendConfirmationForm(initial={"email": error.user.email if error.user else ""})
    return render(request, "users/confirm_email_failed.html", {"reason": error.reason, "form": form}, status=400)


@require_http_methods(["GET", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button, POST confirms: mail scanners that open links must not use up the one-time link."""
    try:
        user = confirmation_token_user(token=token)
    except ConfirmationLinkError as error:
        return _confirmation_failed(request, error)
    if request.method == "GET":
        return render(request, "users/confirm_email.html", {"confirming": user})
    if not services.user_confirm_email(user=user):
        return _confirmation_failed(request, ConfirmationLinkError("used", user))
    login(request, user, backend=MODEL_BACKEND)
    messages.success(request, _("Адрес подтверждён. Добро пожаловать!"))
    return redirect(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
def resend_confirmation(request: HttpRequest) -> HttpResponse:
    form = ResendConfirmationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.confirmation_resend(email=form.cleaned_data["email"], base_url=_base_url(request)):
            messages.info(
                request,
                _("Если этот адрес зарегистрирован и ещё не подтверждён, мы отправили на него новую ссылку."),
            )
        else:
            messages.warning(
                request,
                _("Ссылку можно запрашивать не чаще одного раза в %(seconds)s с. Попробуйте немного позже.")
                % {"seconds": settings.ACCOUNT_RESEND_INTERVAL},
            )
        return redirect("users:login")
    return render(request, "users/resend_confirmation.html", {"form": form})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "users/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """Django's (POST only), saying that it worked: the home page alone looks the same as before."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("Вы вышли из учётной записи."))
        return response


class PasswordChangeView(SuccessMessageMixin, auth_views.PasswordChangeView):
    form_class = PasswordChangeForm
    template_name = "users/password_change.html"
    success_url = reverse_lazy("users:profile")
    success_message = gettext_lazy("Пароль изменён.")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    token_generator = reset_token_generator
    template_name = "users/password_reset.html"
    # Rendered by PasswordResetForm.send_mail through services.account_email_enqueue.
    subject_template_name = "emails/password_reset_subject.txt"
    email_template_name = "emails/password_reset_body.txt"
    html_email_template_name = "emails/password_reset_body.html"
    success_url = reverse_lazy("users:password_reset_done")
    extra_email_context = {"site_name": settings.SITE_NAME}

    def form_valid(self, form: DjangoPasswordResetForm) -> HttpResponse:
        # Over the limits nothing is sent, and the page says what it says otherwise (nothing to learn from it).
        if not services.password_reset_allowed(email=form.cleaned_data["email"], ip=client_ip(self.request)):
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "users/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    token_generator = reset_token_generator
    template_name = "users/password_reset_confirm.html"
    success_url = reverse_lazy("users:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "users/password_reset_complete.html"


@login_required
@require_safe
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "users/profile.html")


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: AuthenticatedHttpRequest) -> HttpResponse:
    # A copy: a rejected form must not leave its values on request.user (shown in the menu).
    user = User.objects.get(pk=request.user.pk)
    form = ProfileForm(request.POST or None, request.FILES or None, instance=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.user_profile_update(
            user=user,
            first_name=data["first_name"],
            last_name=data["last_name"],
            phone=data["phone"],
            country=data["country"],
            avatar=data["new_avatar"] or None,
            remove_avatar=data.get("remove_avatar", False),
            sender_name=data["sender_name"],
            reply_to=data["reply_to"],
            time_zone=data["time_zone"],
            send_window=(data["send_window_start"], data["send_window_end"], data["send_window_days"]),
            language=data["language"],
            finish_report=data["finish_report"],
        )
        messages.success(request, _("Профиль сохранён."))
        return redirect("users:profile")
    return render(request, "users/profile_edit.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    form = AccountDeleteForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        services.user_delete(user=user)
        logout(request)
        messages.success(request, _("Учётная запись и все её данные удалены."))
        return redirect(settings.LOGOUT_REDIRECT_URL)
    counts = {
        "recipients": user.recipients.count(),
        "messages": user.messages.count(),
        "mailings": user.mailings.count(),
    }
    return render(request, "users/delete.html", {"form": form, "counts": counts})


# --- managers: users, blocking, the audit log ------------------------------------------------------------------------

USERS_PER_PAGE = 25
AUDIT_EVENTS_PER_PAGE = 50


def _require_perm(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


@login_required
@require_safe
def user_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    _require_perm(request, "users.view_all_users")
    query, state = clean_search(request.GET.get("q", "")), request.GET.get("state", "")
    users = selectors.user_list(user=request.user, query=query, state=state)
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "state": state, "states": UserState.choices}
    return render(request, "users/user_list.html", context)


def _moderate(request: AuthenticatedHttpRequest, pk: int, *, blocking: bool) -> HttpResponse:
    # 404 for an account the user cannot see (anyone's but their own), 403 for one they may not block.
    target = get_object_or_404(selectors.users_visible_to(request.user), pk=pk)
    _require_perm(request, "users.block_user")
    if blocking and moderation.user_block_refusal(actor=request.user, user=target):
        raise PermissionDenied
    if target.is_blocked != (not blocking):
        messages.info(request, _("Пользователь уже заблокирован.") if blocking else _("Пользователь не заблокирован."))
        return redirect("users:user_list")
    form = ModerationReasonForm(request.POST or None, required=blocking)
    if request.method == "POST" and form.is_valid():
        try:
            if blocking:
                moderation.user_block(user=target, actor=request.user, reason=form.cleaned_data["reason"])
            else:
                moderation.user_unblock(user=target, actor=request.user, reason=form.cleaned_data["reason"])
        except moderation.ModerationRefused as exc:
            messages.error(request, str(exc))
        else:
            done = _("Пользователь %(email)s заблокирован.") if blocking else _("Пользователь %(email)s разблокирован.")
            messages.success(request, done % {"email": target.email})
        return redirect("users:user_list")
    return render(request, "users/user_moderate.html", {"target": target, "form": form, "blocking": blocking})


@login_required
@require_http_methods(["GET", "POST"])
def user_block(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _moderate(request, pk, blocking=True)


@login_required
@require_http_methods(["GET", "POST"])
def user_unblock(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _moderate(request, pk, blocking=False)


@login_required
@require_safe
def audit_log(request: HttpRequest) -> HttpResponse:
    _require_perm(request, "users.view_all_users")
    action = request.GET.get("action", "")
    if action not in AuditEvent.Action.values:
        action = ""
    events = selectors.audit_event_list(action=action)
    page = Paginator(events, AUDIT_EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "action": action, "actions": AuditEvent.Action.choices}
    return render(request, "users/audit_log.html", context)
