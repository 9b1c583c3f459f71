from io import StringIO

from django.core.management import call_command

from yingji.core.models import Area, AreaLevel, AuditEntry


def test_load_areas_creates_the_county_and_its_towns_once(db):
    out = StringIO()
    call_command("load_areas", stdout=out)
    county = Area.objects.get(code="330681")
    assert county.level == AreaLevel.COUNTY and county.name == "诸暨市"
    towns = Area.objects.filter(parent=county, level=AreaLevel.TOWN)
    assert towns.count() == 23 and towns.filter(code="330681005", name="大唐街道").exists()
    assert not Area.objects.filter(level__in=[AreaLevel.VILLAGE, AreaLevel.GRID]).exists()
    assert "23 个镇街" in out.getvalue()
    assert AuditEntry.objects.filter(action="area.import", object_id=county.pk).count() == 1
    call_command("load_areas", stdout=StringIO())  # again: nothing new
    assert Area.objects.count() == 24
    assert AuditEntry.objects.filter(action="area.import").count() == 1
