"""Every date input of the project renders ISO dates (YYYY-MM-DD), whatever the UI language.

Under zh-hans Django's plain ``DateInput`` renders ``2026/12/01`` (the locale's first input format);
a browser's ``<input type=date>`` rejects that as empty, so campaign edits failed and a re-displayed
deadline was silently lost.
"""
from __future__ import annotations

import datetime
import importlib
import pkgutil

import pytest
from django import forms
from django.utils import translation

import yingji
from yingji.core.widgets import IsoDateField, IsoDateInput


def _all_forms():
    for mod in pkgutil.walk_packages(yingji.__path__, "yingji."):
        if mod.name.rsplit(".", 1)[-1] in {"forms", "widgets"} or ".forms" in mod.name:
            importlib.import_module(mod.name)
    seen, todo = set(), [forms.Form]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return [c for c in seen if c.__module__.startswith("yingji.")]


def test_every_date_field_of_every_form_is_an_iso_date_input():
    date_fields = [(cls.__name__, name, field) for cls in _all_forms()
                   for name, field in cls.base_fields.items() if isinstance(field, forms.DateField)]
    assert len(date_fields) >= 10  # campaign, inspection, hazard, supervision, audit forms
    wrong = [f"{cls}.{name}" for cls, name, field in date_fields if not isinstance(field.widget, IsoDateInput)]
    assert wrong == []


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_iso_date_field_renders_and_reads_iso(lang):
    class F(forms.Form):
        day = IsoDateField(label="日期")

    with translation.override(lang):
        html = F(initial={"day": datetime.date(2026, 12, 1)}).as_p()
        assert 'type="date"' in html and 'value="2026-12-01"' in html
        bound = F({"day": "2026-12-01"})
        assert bound.is_valid() and bound.cleaned_data["day"] == datetime.date(2026, 12, 1)
        bad = F({"day": "明天"})
        assert not bad.is_valid()
    assert "日期格式不正确" in str(bad.errors["day"])


def test_campaign_edit_page_prefills_iso_dates(world, client):
    from tests.inspections.factories import make_campaign

    campaign = make_campaign(world, world.county, starts_on=datetime.date(2026, 12, 1),
                             ends_on=datetime.date(2027, 1, 31))
    client.force_login(world.admin)
    html = client.get(f"/campaigns/{campaign.pk}/edit/").content.decode()
    assert 'value="2026-12-01"' in html and 'value="2027-01-31"' in html and "2026/12/01" not in html
