"""Errors as problem details (RFC 9457): type, title, status, detail and, for invalid input, errors per field.

Every error the API gives goes through here, in the language of the request (LocaleMiddleware reads
Accept-Language; Russian by default). Field errors are the forms' own messages (api/forms_bridge.py).
"""

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.core import validators
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from api.auth import ApiProblem

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
VALIDATION_TYPE = "urn:vestnik:problem:validation"
NON_FIELD = "__all__"


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str = ""
    errors: dict[str, list[str]] | None = None


def problem_response(problem: ApiProblem) -> HttpResponse:
    import json

    document: dict[str, Any] = {
        "type": VALIDATION_TYPE if problem.errors is not None else "about:blank",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors is not None:
        document["errors"] = problem.errors
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False), status=problem.status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in problem.headers.items():
        response[name] = value
    return response


def invalid(errors: dict[str, list[str]], detail: str = "") -> ApiProblem:
    return ApiProblem(422, _("Данные не прошли проверку"), detail or _("Исправьте ошибки в полях."), errors=errors)


def form_errors(*bound_forms: forms.BaseForm) -> dict[str, list[str]]:
    """The forms' error messages per field, exactly as the web pages show them."""
    errors: dict[str, list[str]] = {}
    for form in bound_forms:
        for field, messages in form.errors.items():
            errors.setdefault(field, []).extend(str(m) for m in messages)
    return errors


def not_found() -> ApiProblem:
    return ApiProblem(404, _("Не найдено"), _("Объекта нет или он вам недоступен."))


def forbidden(detail: str = "") -> ApiProblem:
    return ApiProblem(403, _("Доступ запрещён"), detail or _("Это действие вам недоступно."))


def _loc_field(loc: Any) -> str:
    # Pydantic's loc starts with where the value came from ("body", "query", "path") and the argument name.
    parts = [str(p) for p in (loc or [])]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in {"payload", "filters"}:
        parts = parts[1:]
    return ".".join(parts) or NON_FIELD


def _type_message(error: dict[str, Any]) -> str:
    # Django's own (translated) wordings for what a form would have said; pydantic's are English only.
    if error.get("type") == "missing":
        return str(forms.Field.default_error_messages["required"])
    return str(validators.RegexValidator.message)


def _on_api_problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return problem_response(exc)


def _on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(_loc_field(error.get("loc")), []).append(_type_message(error))
    return problem_response(invalid(errors))


def _on_authentication(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem_response(
        ApiProblem(
            401,
            _("Нужен токен"),
            _("Передайте действующий токен API в заголовке «Authorization: Bearer <токен>»."),
        )
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return problem_response(ApiProblem(400, _("Неверный запрос"), _("Тело запроса не разобрать как JSON.")))
    return problem_response(ApiProblem(exc.status_code, _("Ошибка запроса"), str(exc)))


def _on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(not_found())


def _on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem_response(forbidden())


def too_big() -> ApiProblem:
    return ApiProblem(
        413,
        _("Запрос слишком велик"),
        _("Тело запроса больше %(mb)s МБ: разделите его на части (например, по 1000 получателей).")
        % {"mb": round(settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024, 1)},
    )


def _on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(too_big())


HANDLERS: list[tuple[type[Exception], Any]] = [
    (ApiProblem, _on_api_problem),
    (ValidationError, _on_validation),
    (AuthenticationError, _on_authentication),
    (HttpError, _on_http_error),
    (Http404, _on_not_found),
    (PermissionDenied, _on_permission_denied),
    (RequestDataTooBig, _on_too_big),
]
