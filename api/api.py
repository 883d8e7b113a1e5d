"""The REST API under /api/v1/ (django-ninja): routers, authentication, problem details, the OpenAPI document.

django-ninja was chosen for its speed (pydantic-core), type hints that are the schema, and the OpenAPI 3 document
and Swagger UI it serves itself from its own static files (no CDN).
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger, _csrf_needed

from api.auth import TokenAuth
from api.endpoints import attempts, lists, mailings, me, messages, recipients, stats, suppressions
from api.idempotency import HEADER, MAX_KEY_LENGTH
from api.problems import HANDLERS, PROBLEM_CONTENT_TYPE

DESCRIPTION = """
API Вестника: получатели, списки, сообщения, рассылки, попытки и их журнал доставки, статистика, отписки
и согласия.

* **Токен**: создайте его в профиле («Токены API») и передавайте в заголовке `Authorization: Bearer <токен>`.
  Токен «только чтение» получает 403 на любое изменение.
* **Страницы**: списки отдаются по курсору: `?limit=...`, затем `?cursor=<next_cursor>`, пока `next_cursor` не null.
* **Ошибки**: документ problem details (RFC 9457) с полем `errors` — сообщения по полям, те же, что в формах сайта;
  язык — из `Accept-Language` (по умолчанию русский).
* **Повтор без дублей**: передайте в POST заголовок `Idempotency-Key`: повтор с тем же ключом вернёт первый ответ
  и не запустит вторую отправку (ключ хранится сутки).
* **Лимит**: при превышении числа запросов на токен — 429 и `Retry-After`.
"""


class LocalSwagger(Swagger):
    """django-ninja's Swagger UI page from its own template and static files, never its CDN variant.

    django-ninja picks the CDN page unless "ninja" is an installed app; it is not (config/settings.py: its folders are
    listed instead, so that no process imports it at start-up), and the site's CSP allows only its own files.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            # django-ninja's own rule (private in 1.x, pinned): the page sends the CSRF token only for cookie auth.
            "add_csrf": _csrf_needed(api),
        }
        return render(request, self.template, context)


class VestnikApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        return str(operation.view_func.__name__)

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                for code, answer in operation.get("responses", {}).items():
                    content = answer.get("content")
                    if str(code).startswith(("4", "5")) and content and "application/json" in content:
                        answer["content"] = {PROBLEM_CONTENT_TYPE: content["application/json"]}
                if method == "post":
                    operation.setdefault("parameters", []).append(
                        {
                            "name": HEADER,
                            "in": "header",
                            "required": False,
                            "description": "Повтор с тем же ключом вернёт первый ответ и не повторит действие.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                        }
                    )
        return schema


api = VestnikApi(
    title="Вестник API",
    version="1",
    description=DESCRIPTION,
    auth=TokenAuth(),
    urls_namespace="api-v1",
    docs=LocalSwagger(settings={"persistAuthorization": False}),
)
for exc_class, handler in HANDLERS:
    api.add_exception_handler(exc_class, handler)
api.add_router("/me", me.router)
api.add_router("/recipients", recipients.router)
api.add_router("/lists", lists.router)
api.add_router("/messages", messages.router)
api.add_router("/mailings", mailings.router)
api.add_router("/attempts", attempts.router)
api.add_router("/stats", stats.router)
api.add_router("/suppressions", suppressions.router)
api.add_router("/consents", suppressions.consents_router)
