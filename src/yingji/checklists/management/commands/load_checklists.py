"""``yingji load_checklists``: add the seeded checklist modules and criteria that are missing and
link the sectors and risk traits that exist now (e.g. sectors created by the demo data after
``migrate``). Safe to run again; existing modules and versions are never changed otherwise."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from yingji.core import audit

from ... import services


class Command(BaseCommand):
    help = "Load the seeded checklist modules and link sectors/traits that exist now (idempotent)."

    def handle(self, *args, **opts):
        with audit.context(request_id="checklists-load-cli"):
            counts = services.load_seed(None)
        self.stdout.write(self.style.SUCCESS(
            "新增模块 {modules} 个、检查项 {items} 个、判定条款 {criteria} 条,关联行业领域/风险特征 {links} 个".format(
                **counts)))
