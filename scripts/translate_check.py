#!/usr/bin/env python3
"""List untranslated and fuzzy entries of the English UI catalogue; exit 1 if there are any.

    python scripts/translate_check.py [path/to/django.po ...]

Without arguments it checks ``src/yingji/locale/en/LC_MESSAGES/django.po``. Run it after
``django-admin makemessages -l en`` (new strings arrive with an empty ``msgstr``; strings whose
msgid changed may arrive marked ``#, fuzzy`` with a guessed translation, which Django ignores).
It also warns (exit 1) when ``django.mo`` next to the .po does not contain exactly the .po's
translations, i.e. ``compilemessages`` has not been run since the last edit.

Standard library only: no polib needed.
"""
from __future__ import annotations

import ast
import gettext
import sys
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PO = Path(__file__).resolve().parent.parent / "src/yingji/locale/en/LC_MESSAGES/django.po"


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)   # plural index (0 for singular) -> text
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def untranslated(self) -> bool:
        return not self.msgstr or any(not s for s in self.msgstr.values())


def _unquote(text: str) -> str:
    return ast.literal_eval(text) if text else ""


def parse_po(text: str) -> list[Entry]:
    """The entries of a .po file (the header, msgid "", included; obsolete ``#~`` entries flagged)."""
    entries: list[Entry] = []
    cur: Entry | None = None
    target: tuple[str, int] | None = None   # ("msgid" | "msgid_plural" | "msgstr", plural index)

    def finish():
        nonlocal cur, target
        if cur is not None and (cur.msgstr or cur.msgid):
            entries.append(cur)
        cur, target = None, None

    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            finish()
            continue
        if cur is None or (target is not None and target[0] == "msgstr" and line.startswith(("#", "msgid "))):
            finish()
            cur = Entry(line=no)
        if obsolete:
            cur.obsolete = True
        if line.startswith("#,"):
            cur.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
        elif line.startswith("#:"):
            cur.references += line[2:].split()
        elif line.startswith("#"):
            continue
        elif line.startswith("msgctxt "):
            cur.msgctxt, target = _unquote(line[8:].strip()), ("msgctxt", 0)
        elif line.startswith("msgid_plural "):
            cur.msgid_plural, target = _unquote(line[13:].strip()), ("msgid_plural", 0)
        elif line.startswith("msgid "):
            cur.msgid, target = _unquote(line[6:].strip()), ("msgid", 0)
        elif line.startswith("msgstr["):
            idx, rest = line[7:].split("]", 1)
            cur.msgstr[int(idx)], target = _unquote(rest.strip()), ("msgstr", int(idx))
        elif line.startswith("msgstr "):
            cur.msgstr[0], target = _unquote(line[7:].strip()), ("msgstr", 0)
        elif line.startswith('"') and target is not None:
            part = _unquote(line)
            if target[0] == "msgid":
                cur.msgid += part
            elif target[0] == "msgctxt":
                cur.msgctxt = (cur.msgctxt or "") + part
            elif target[0] == "msgid_plural":
                cur.msgid_plural = (cur.msgid_plural or "") + part
            else:
                cur.msgstr[target[1]] += part
    finish()
    return entries


def problems(po_path: Path) -> list[str]:
    """Human-readable problems of one catalogue; empty when it is complete and compiled."""
    entries = parse_po(po_path.read_text(encoding="utf-8"))
    out = []
    for e in entries:
        if e.obsolete:
            continue
        where = f"{po_path}:{e.line}"
        ref = f" ({e.references[0]})" if e.references else ""
        if e.msgid == "":
            if e.fuzzy:
                out.append(f"{where}: header is marked fuzzy (remove '#, fuzzy' above msgid \"\")")
            continue
        if e.fuzzy:
            out.append(f"{where}: fuzzy{ref}: {e.msgid!r} -> {e.msgstr.get(0, '')!r}")
        elif e.untranslated:
            out.append(f"{where}: untranslated{ref}: {e.msgid!r}")
    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        out.append(f"{mo_path}: missing; run django-admin compilemessages")
    elif not out:
        with mo_path.open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog   # noqa: SLF001 - read-only comparison
        for e in entries:
            if e.obsolete or not e.msgid:
                continue
            key = e.msgid if e.msgctxt is None else f"{e.msgctxt}\x04{e.msgid}"   # how .mo files key contexts
            if e.msgid_plural is None:
                ok = catalog.get(key) == e.msgstr[0]
            else:
                ok = all(catalog.get((key, i)) == s for i, s in e.msgstr.items())
            if not ok:
                out.append(f"{mo_path}: out of date ({e.msgid!r} differs from the .po); "
                           f"run django-admin compilemessages")
                break
    return out


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [DEFAULT_PO]
    found = []
    for p in paths:
        if not p.exists():
            found.append(f"{p}: no such file")
            continue
        found += problems(p)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} problem(s)", file=sys.stderr)
        return 1
    print("OK: every entry translated, none fuzzy, .mo up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
