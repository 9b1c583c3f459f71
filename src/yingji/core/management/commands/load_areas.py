"""``yingji load_areas``: the county (诸暨市, 330681) and its 23 towns with their statistical codes,
for a fresh production database (the demo adds synthetic villages and grids; a real deployment
adds its villages and grids on the area pages). Does nothing when the towns exist."""
from django.core.management import BaseCommand

from yingji.core.demo import build_areas
from yingji.core.models import Area, AreaLevel


class Command(BaseCommand):
    help = "Create the county and its towns (real division codes); idempotent."

    def handle(self, *args, **opts):
        county = build_areas(villages_per_town=0)
        towns = Area.objects.filter(parent=county, level=AreaLevel.TOWN).count()
        self.stdout.write(f"{county.name}({county.code}):{towns} 个镇街")
