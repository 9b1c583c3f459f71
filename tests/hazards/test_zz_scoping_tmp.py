from tests.scoping_factories import FACTORIES, api_items, factory, html_has

from . import factories as hf

if "hazards.Hazard" not in FACTORIES:
    factory("hazards.Hazard",
            detail_urls=[lambda h: f"/hazards/{h.pk}/", lambda h: f"/api/v1/hazards/{h.pk}"],
            list_urls=[(lambda h: f"/api/v1/hazards?q={h.pk}&limit=500", api_items),
                       (lambda h: f"/hazards/?q={h.pk}", html_has('href="/hazards/{obj.pk}/"'))])(hf.make_hazard)
    factory("hazards.HazardEvent",
            list_urls=[(lambda e: f"/api/v1/hazards/{e.hazard_id}",
                        lambda r, e: e.pk in {x["id"] for x in r.json()["events"]})])(hf.make_event)
    factory("hazards.Rectification",
            list_urls=[(lambda x: f"/api/v1/hazards/{x.hazard_id}",
                        lambda r, x: x.pk in {y["id"] for y in r.json()["rectifications"]})])(hf.make_rectification)

from tests.core.test_scoping import test_orm_rule, test_pages_and_api, test_every_scoped_model_has_a_factory  # noqa
