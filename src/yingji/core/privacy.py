"""What a side record reveals: personal data in lists, exports and answers.

The access rule (``core.scoping``) decides which records a person sees. A record also carries
facts about *other* records and people — a job's result, an audit entry's client address, the
inspectors of an inspection, the phone of a site's legal representative. The one rule for those:

    a side record, or a field of a record that is about something else, is shown only to
    whoever may see that something else — the way it is shown where it lives.

Concretely (each place below calls one of these helpers):

* people: a person is named to a user who may see people there — :func:`people_visible_to`:
  users holding a live role in the area subtree of one of the user's (non-site-bound) grants
  (``User.location_q``, the account's own scope without the ``manage_users`` capability that
  opening the account needs);
* accounts: a client address (``AuditEntry.ip``) belongs to the actor's account, so it is shown
  to who may open that account (``User.objects.visible_to``: user administrators of an area
  where the actor holds a role) — :func:`redact_audit_entries`;
* phones: shown in full to who may edit the record that carries them, masked (``138****1234``)
  for everyone else (the read-only leader, grid workers, enterprises) and on public pages —
  :func:`mask_phone`, :class:`PhoneReveal`;
* names of private persons on public pages: ``王**`` — :func:`mask_name`.
"""
from __future__ import annotations

import re

from . import roles
from .scoping import grants_for

_DIGITS = re.compile(r"\d")


def mask_phone(value) -> str:
    """``13812341234`` → ``138****1234``; a landline ``0575-87654321`` → ``0575-****4321``;
    a number of fewer than 7 digits keeps its last 2. Empty stays empty."""
    text = str(value or "").strip()
    if not text:
        return ""
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(digits) == 11 and text[digits[0]] == "1":
        keep = set(digits[:3]) | set(digits[-4:])
    elif len(digits) >= 7:
        head = len(text.split("-", 1)[0]) if "-" in text else 0  # the area code of a landline
        keep = {i for i in digits if i < head} | set(digits[-4:])
    else:
        keep = set(digits[-2:])
    out, in_mask = [], False
    for i, ch in enumerate(text):
        if ch.isdigit() and i not in keep:
            if not in_mask:
                out.append("****")
                in_mask = True
            continue
        if ch.isdigit():
            in_mask = False
        if not in_mask:
            out.append(ch)
    return "".join(out)


def mask_name(value, suffix: str = "") -> str:
    """A private person's name as published: the first character, then ``**`` (``王**``), then
    ``suffix`` (``户`` for a household: ``王**户``)."""
    text = str(value or "").strip()
    if not text:
        return ""
    return f"{text[0]}**{suffix}"


def can_edit_somewhere(user) -> bool:
    return any(g.allows(roles.EDIT) for g in grants_for(user))


class PhoneReveal:
    """Which rows of ``model`` ``user`` may read phones of in full: the rows they may edit.

    ``load(ids)`` reads that set for a page (one query, and none for users who edit nothing);
    ``phone(pk, value)`` gives the value as the user may read it."""

    def __init__(self, user, model):
        self.user, self.model = user, model
        self.editor = can_edit_somewhere(user)
        self.full: set = set()

    def load(self, ids) -> "PhoneReveal":
        ids = [pk for pk in ids if pk is not None]
        if self.editor and ids:
            self.full = set(self.model.objects.editable_by(self.user).filter(pk__in=ids)
                            .values_list("pk", flat=True))
        return self

    def shows(self, pk) -> bool:
        return pk in self.full

    def phone(self, pk, value) -> str:
        return value if pk in self.full else mask_phone(value)


def people_visible_to(user):
    """The people ``user`` may see named: users with a live role in the area subtree of one of
    the user's area grants (``User.location_q``: a county grant sees everyone's names)."""
    from .models import User

    condition = None
    for grant in grants_for(user):
        if grant.site_ids is not None or not grant.allows(roles.VIEW):
            continue
        q = User.location_q(grant)
        if q is None:
            continue
        if not q:
            return User.objects.all()
        condition = q if condition is None else condition | q
    if condition is None:
        return User.objects.none()
    return User.objects.filter(condition)


def visible_people_ids(user, ids) -> set:
    ids = {pk for pk in ids if pk is not None}
    if not ids:
        return set()
    return set(people_visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def account_ids_visible_to(user, ids) -> set:
    """Of the accounts ``ids``, those ``user`` may open (``User.objects.visible_to``)."""
    from .models import User

    ids = {pk for pk in ids if pk is not None}
    if not ids:
        return set()
    return set(User.objects.visible_to(user).filter(pk__in=ids).values_list("pk", flat=True))


def redact_audit_entries(user, entries, cache: dict | None = None) -> list:
    """Audit entries as ``user`` may read them (changed in memory only, never saved):

    * the client address only where the user may open the actor's account;
    * phones in the recorded changes (fields named ``…phone``) in full only where the user may
      edit the record the entry is about, masked elsewhere — as on the record itself.

    ``cache`` carries the answers across the chunks of an export."""
    from django.contrib.contenttypes.models import ContentType

    cache = {} if cache is None else cache
    accounts = cache.setdefault("accounts", {})  # actor id -> may open the account
    editable = cache.setdefault("editable", {})  # (content type id, object id) -> may edit the record
    entries = list(entries)
    unknown = {e.actor_id for e in entries if e.ip and e.actor_id is not None and e.actor_id not in accounts}
    if unknown:
        shown = account_ids_visible_to(user, unknown)
        for pk in unknown:
            accounts[pk] = pk in shown
    phoned = [e for e in entries if any(_is_phone_field(k) for k in (e.changes or {}))]
    phoned_ids = {id(e) for e in phoned}
    wanted: dict[int, set] = {}
    for e in phoned:
        if (e.content_type_id, e.object_id) not in editable:
            wanted.setdefault(e.content_type_id, set()).add(e.object_id)
    may_edit = any(g.allows(roles.EDIT) or g.allows(roles.MANAGE_USERS) for g in grants_for(user))
    for ct_id, ids in wanted.items():
        model = ContentType.objects.get_for_id(ct_id).model_class()
        full = set()
        if may_edit and model is not None and hasattr(model.objects, "editable_by"):
            full = set(model.objects.editable_by(user).filter(pk__in=ids).values_list("pk", flat=True))
        for pk in ids:
            editable[(ct_id, pk)] = pk in full
    for e in entries:
        if e.ip and not accounts.get(e.actor_id, False):
            e.ip = None
        if id(e) in phoned_ids and not editable.get((e.content_type_id, e.object_id), False):
            e.changes = {k: ([mask_phone(v) if isinstance(v, str) else v for v in change]
                             if _is_phone_field(k) and isinstance(change, list) else change)
                         for k, change in e.changes.items()}
    return entries


def _is_phone_field(name: str) -> bool:
    return str(name).endswith("phone")


def record_export(user, action: str, *, filters: dict, rows: int, note: str = "") -> None:
    """Audit one export that carries personal data (names, phones, addresses, client addresses),
    whatever its size: who, what (``action``, e.g. ``site.export``), with which filters, how many
    rows. The entry is about the exporting person (their account's activity), so it is read by
    the user administrators of that person's area, like the other account events."""
    from django.db import transaction

    from . import audit

    with transaction.atomic():
        audit.record(action, user, {"filters": [None, filters or {}], "rows": [None, rows]}, note=note, actor=user)
