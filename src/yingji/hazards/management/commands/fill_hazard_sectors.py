"""``yingji fill_hazard_sectors``: give older hazards without a sector the one that can be told.

Every hazard has a sector now (the report asks when it cannot be decided); hazards reported
before that may have none (a site of two sectors). This fills each one whose sector can be told
— its inspection's, its checklist module's among the site's, the site's only one, the reporter's
only one — audited per hazard as the system, and reports how many stay without (to be set by
hand). Safe to run again.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand

from yingji.core import audit

from ... import services


class Command(BaseCommand):
    help = "Fill the sector of hazards that have none, where it can be determined."

    def handle(self, *args, **opts):
        with audit.context(request_id="hazards-fill-sectors-cli"):
            result = services.fill_missing_sectors()
        self.stdout.write(self.style.SUCCESS(
            f"无行业领域的隐患 {result['candidates']} 条,已补填 {result['filled']} 条,"
            f"无法确定 {result['undetermined']} 条"))
