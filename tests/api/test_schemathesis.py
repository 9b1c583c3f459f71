"""Property-based run of schemathesis over the whole OpenAPI document, in process against the WSGI
app, as each persona (a bearer token made through the services): no answer is a 5xx, every status
is documented and every answer matches its declared schema and media type.

Generated ids (in paths and JSON bodies) are often swapped for the ids of real records (built
through the services in town A), so that requests get past "not found" into the services. Writes run with
``YINGJI_STRICT_AUDIT=1`` like every test: a write path that does not audit answers 500 here.

Bounded: 3 examples per operation and mode, derandomised, no example database; valid requests
(positive mode) as admin, leader, dept, inspector, town_a, grid and enterprise (every role),
invalid ones (negative mode)
as admin. ``YINGJI_SCHEMATHESIS_EXAMPLES=50`` (``make fuzz``) runs 50 examples in both modes for
all eight personas.
"""
from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from yingji.api import api
from yingji.core import services

EXAMPLES = int(os.environ.get("YINGJI_SCHEMATHESIS_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Every persona sends valid requests (positive mode: the services, scoping and answers); invalid
# requests (negative mode: the input checks, which come before any scope) are sent by the
# administrator in the default run and by everyone in ``make fuzz``.
# one persona per role (city admin, leader, department officer, inspector, town officer, grid
# worker, enterprise manager); make fuzz adds the second town's officer
PERSONAS = ["admin", "leader", "dept", "inspector", "town_a", "grid", "enterprise"]
if os.environ.get("YINGJI_SCHEMATHESIS_EXAMPLES"):
    PERSONAS += ["town_b"]
NEGATIVE_FOR = set(PERSONAS) if os.environ.get("YINGJI_SCHEMATHESIS_EXAMPLES") else {"admin"}
RUNS = [(persona, GenerationMode.POSITIVE) for persona in PERSONAS] + [
    (persona, GenerationMode.NEGATIVE) for persona in PERSONAS if persona in NEGATIVE_FOR]

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema())
KNOWN: dict[str, list[int]] = {}   # id parameter name -> ids of real records (set by the test)
STATUSES: Counter = Counter()      # status codes answered in the current run
# (path parameter, id) -> id used instead: the run's own token, account and roles are not revoked
# under it (that ends the run as a 401 storm, not a finding).
PROTECTED: dict[tuple[str, int], int] = {}


@SCHEMA.hook
def after_call(context, case, response):
    STATUSES[response.status_code] += 1


@SCHEMA.hook
def flatmap_path_parameters(context, path_parameters):
    """Each id parameter: the generated value, or the id of a real record."""
    if not path_parameters:
        return st.just(path_parameters)
    options = {}
    for name, value in path_parameters.items():
        value = PROTECTED.get((name, value), value)
        known = KNOWN.get(name)
        options[name] = st.sampled_from([value, *known]) if known else st.just(value)
    return st.fixed_dictionaries(options)


BODY_IDS = {"parent_id": "area_id", "new_parent_id": "area_id", "host_id": "site_id", "organiser_id": "area_id"}


@SCHEMA.hook
def flatmap_body(context, body):
    """Id fields of a JSON object body: the generated value, or the id of a real record."""
    if not isinstance(body, dict):
        return st.just(body)
    options = {}
    for name, value in body.items():
        known = KNOWN.get(BODY_IDS.get(name, name)) if isinstance(value, int) else None
        options[name] = st.sampled_from([value, *known]) if known else st.just(value)
    return st.fixed_dictionaries(options)


def _wsgi_app():
    """Django's WSGI handler sharing the test's connection (and transaction): the request signals
    must not close it, as Django's own test client arranges."""
    handler = WSGIHandler()

    def app(environ, start_response):
        return handler(environ, start_response)

    return app


@pytest.fixture
def keep_connection():
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _records(world) -> dict[str, list[int]]:
    """Real records of every kind an operation's path names, in town A (built through services)."""
    from tests.scoping_factories import FACTORIES
    from yingji.checklists.models import ChecklistItem, ChecklistModule, ChecklistSection, ChecklistVersion
    from yingji.core.models import RoleAssignment
    from yingji.inspections.models import InspectionResult
    from yingji.registry.models import SiteBinding

    area, sector = world.villages["a1"], world.sectors["construction"]
    made = {label: FACTORIES[label](world, area, sector) for label in (
        "registry.Site", "hazards.Hazard", "core.Attachment", "core.Job", "inspections.Campaign",
        "inspections.Inspection", "supervision.Listing", "supervision.ExtensionRequest")}
    inspection = made["inspections.Inspection"]
    from yingji.registry import services as registry_services

    registry_services.bind_site_manager(world.admin, world.enterprise, made["registry.Site"])
    ids = {
        "area_id": [world.county.pk, world.area_a.pk, area.pk, world.grids["a1g1"].pk],
        "user_id": [world.grid.pk, world.town_a.pk],
        "assignment_id": list(RoleAssignment.objects.filter(user__in=[world.grid, world.town_a])
                              .values_list("pk", flat=True)),
        "site_id": [made["registry.Site"].pk, made["hazards.Hazard"].site_id or made["registry.Site"].pk],
        "hazard_id": [made["hazards.Hazard"].pk],
        "attachment_id": [made["core.Attachment"].pk],
        "job_id": [made["core.Job"].pk],
        "campaign_id": [made["inspections.Campaign"].pk],
        "inspection_id": [inspection.pk],
        "result_id": list(InspectionResult.objects.filter(inspection=inspection).values_list("pk", flat=True)[:3]),
        "listing_id": [made["supervision.Listing"].pk],
        "extension_id": [made["supervision.ExtensionRequest"].pk],
        "binding_id": list(SiteBinding.objects.values_list("pk", flat=True)[:2]),
        "module_id": list(ChecklistModule.objects.values_list("pk", flat=True)[:2]),
        "version_id": list(ChecklistVersion.objects.values_list("pk", flat=True)[:2]),
        "section_id": list(ChecklistSection.objects.values_list("pk", flat=True)[:2]),
        "item_id": list(ChecklistItem.objects.values_list("pk", flat=True)[:2]),
    }
    return {name: values for name, values in ids.items() if values}


def _run_operation(operation, headers, app, mode) -> str | None:
    """The first failing case of ``operation`` in ``mode``, described, or None."""

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        # The persona's token wins over any Authorization the generator made up for the scheme.
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(app=app, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # check failures (or the app raising): report them all
        return f"{operation.label} [{mode.value}]: {type(exc).__name__}: {str(exc)[:1500]}"
    return None


@pytest.mark.parametrize("persona, mode", RUNS, ids=[f"{p}-{m.value}" for p, m in RUNS])
def test_api_answers_every_generated_request_as_documented(world, persona, mode, keep_connection):
    KNOWN.clear()
    STATUSES.clear()
    KNOWN.update(_records(world))
    user = world.users[persona]
    _t, key = services.create_token(None, user, "schemathesis")
    spare, _key = services.create_token(None, user, "spare")   # revoking the run's own token would end it
    KNOWN["token_id"] = [spare.pk]
    PROTECTED.clear()
    PROTECTED[("token_id", _t.pk)] = spare.pk
    other = world.inspector
    PROTECTED[("user_id", user.pk)] = other.pk
    for assignment in user.assignments.all():
        PROTECTED[("assignment_id", assignment.pk)] = other.assignments.first().pk
    headers, app = {"Authorization": f"Bearer {key}"}, _wsgi_app()
    started, operations, failures = time.monotonic(), 0, []
    for result in SCHEMA.get_all_operations():
        operation = result.ok()
        operations += 1
        failure = _run_operation(operation, headers, app, mode)
        if failure:
            failures.append(failure)
    print(f"schemathesis {persona} {mode.value}: {operations} operations × {EXAMPLES} examples "
          f"in {time.monotonic() - started:.1f}s; statuses {dict(sorted(STATUSES.items()))}")
    assert operations >= 100
    assert not failures, f"{len(failures)} failing operations:\n\n" + "\n\n".join(failures)


def test_the_run_reports_a_server_error(world, keep_connection, monkeypatch):
    """The harness itself: a 500 is reported, not swallowed."""
    from yingji.core import api as core_api

    _t, key = services.create_token(None, world.grid, "schemathesis")
    headers, app = {"Authorization": f"Bearer {key}"}, _wsgi_app()
    me = SCHEMA["/api/v1/me"]["GET"]
    assert _run_operation(me, headers, app, GenerationMode.POSITIVE) is None

    def broken(user):
        raise RuntimeError("planted")

    monkeypatch.setattr(core_api, "grants_for", broken)
    failure = _run_operation(me, headers, app, GenerationMode.POSITIVE)
    assert failure and "Server error" in failure, failure
