"""Schema-driven fuzzing of the whole API with schemathesis, in-process against the real app and database.

Every operation of the OpenAPI document gets a bounded number of generated requests (a fixed seed, so a failure
repeats) from an owner's read-write token over a small world of objects: no answer may be a 5xx, and every
answer must match the document (status, content type, body schema).
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig

from api.api import api as ninja_api
from api.tests.conftest import token_for
from users.models import User
from users.tests.access_world import World, world_build

# The document the API serves at /api/v1/openapi.json, and the real app (WSGI) to send the requests to.
CONFIG = SchemathesisConfig.from_dict(
    {
        # Unknown query parameters are ignored, as by most APIs: an extra one is not invalid data.
        "generation": {"allow-extra-parameters": False},
        # A body over the upload limit is refused with 413 before its items are counted.
        "checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 403, 404, 409, 413, 422, 429]}},
    }
)
schema = schemathesis.openapi.from_dict(ninja_api.get_openapi_schema(), config=CONFIG)
schema.app = get_wsgi_application()


@pytest.fixture
def _connection_kept(db: None) -> Iterator[None]:
    # A WSGI request closes the database connection when it ends; the test's database lives in that connection
    # (django.test.Client disconnects the same handlers).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(
    _connection_kept: None, owner: User, other_user: User, manager: User, blocked_user: User, settings: Any
) -> tuple[str, World]:
    settings.API_RATE_LIMIT = 0  # the fuzzer's pace is not what is under test here
    world = world_build(owner=owner, other=other_user, manager=manager, blocked=blocked_user)
    return token_for(owner), world


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_holds_to_its_schema(case: Any, fuzz_token: tuple[str, World]) -> None:
    token, _world = fuzz_token
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    # ignored_auth probes with a made-up credential of its own: the token kinds are the access matrix's job.
    # positive_data_acceptance expects every schema-valid body to be accepted, but the web's forms check more than a
    # JSON schema can say (a duplicate address, a date in the past, another owner's id): those are 422 by design.
    case.validate_response(response, excluded_checks=[checks.ignored_auth, checks.positive_data_acceptance])
