"""Irreversible actions ask first: every POST form in every template whose target URL archives,
closes, revokes, deletes, removes, deactivates, delists, rejects, sends back, discards, cancels,
unbinds, verifies (销号) or decides has ``data-confirm`` (core/static/core/app.js asks with it).

The scan renders each ``<form …>`` tag alone with stand-in objects, resolves the URL it posts to
and looks at the URL's name and arguments. Forms whose action depends on a variable (the hazard
and listing action forms: ``{% url 'hazards:action' hazard.pk a.action %}``) are rendered once per
possible action, so a conditional ``data-confirm`` is checked for each of them.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Template
from django.urls import resolve

SRC = Path(__file__).resolve().parents[2] / "src" / "yingji"
IRREVERSIBLE = ("archive", "close", "revoke", "delete", "remove", "deactivate", "delist", "reject", "send_back",
                "discard", "cancel", "unbind", "verify", "decide")
FORM_TAG = re.compile(r"<form\b(?:[^>{]|\{%.*?%\}|\{\{.*?\}\})*>", re.S)
URL_TAG = re.compile(r"\{%\s*url\s+'[^']+'([^%]*)%\}")


def _action_values(tag: str) -> list[str]:
    """Every value the ``<x>.action`` variable of an action form takes (the steps of its view)."""
    from yingji.hazards.models import Action
    from yingji.supervision.views import ACTION_LABELS

    steps = {"hazards:action": list(Action.values), "supervision:action": list(ACTION_LABELS)}
    name = re.search(r"\{%\s*url\s+'([^']+)'", tag).group(1)
    assert name in steps, f"unknown action form {name}: list its steps here"
    return steps[name]


class Stand:
    """Any object a template names: every attribute is 1 (a pk), except the ones given."""

    def __init__(self, **values):
        self.values = values

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self.values.get(name, 1)


def post_forms():
    """(template path, form tag) of every POST form with an explicit action."""
    for path in sorted(SRC.rglob("templates/**/*.html")):
        text = path.read_text(encoding="utf-8")
        for tag in FORM_TAG.findall(text):
            if re.search(r'method="post"', tag, re.I) and "action=" in tag:
                yield path.relative_to(SRC), tag


def renderings(tag: str):
    """The tag rendered for each value of a ``.action`` variable in its URL (once if none)."""
    tokens = [t for args in URL_TAG.findall(tag) for t in args.split() if not t.startswith(("'", '"'))]
    objects = {t.split(".")[0] for t in tokens if "." in t}
    plain = {t for t in tokens if "." not in t}
    dynamic = {t.split(".")[0] for t in tokens if t.endswith(".action")}
    template = Template("{% load i18n %}" + tag)
    for value in _action_values(tag) if dynamic else [None]:
        context = {n: "x" for n in plain}
        context.update({n: Stand(action=value) if n in dynamic else Stand() for n in objects})
        yield template.render(Context(context))


def target(rendered: str) -> str:
    """The URL name and arguments the rendered form posts to, as one string to look for verbs in."""
    url = re.search(r'action="([^"]*)"', rendered).group(1)
    match = resolve(url)
    return " ".join([match.url_name or "", *map(str, match.args), *map(str, match.kwargs.values())])


def test_the_scan_finds_the_forms_it_must_check():
    """The scan sees the known irreversible forms (so it cannot pass by finding nothing)."""
    found = {(str(p), target(r)) for p, tag in post_forms() for r in renderings(tag)}
    names = " ".join(t for _, t in found)
    for expected in ("campaign_status 1 close", "assignment_revoke", "item_remove", "user_action 1 deactivate",
                     "user_action 1 revoke", "action 1 send_back", "action 1 delist", "decide", "campaign_archive"):
        assert expected in names, expected


@pytest.mark.parametrize("path,tag", [pytest.param(p, t, id=f"{p}:{i}") for i, (p, t) in enumerate(post_forms())])
def test_irreversible_forms_ask_for_confirmation(path, tag):
    for rendered in renderings(tag):
        where = target(rendered)
        if any(verb in where for verb in IRREVERSIBLE):
            confirm = re.search(r'data-confirm="([^"]+)"', rendered)
            assert confirm, f"{path}: the form posting to {where!r} has no data-confirm"
            assert confirm.group(1).strip().endswith(("?", "?", "。")), confirm.group(1)


def test_confirm_is_not_asked_for_ordinary_steps():
    """The hazard form of an ordinary step (受理) renders without data-confirm."""
    tag = next(t for p, t in post_forms() if "hazards:action" in t)
    rendered = Template("{% load i18n %}" + tag).render(Context({"hazard": Stand(), "a": Stand(action="accept")}))
    assert "data-confirm" not in rendered
