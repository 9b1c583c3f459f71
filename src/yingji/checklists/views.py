"""Checklist pages: the module list and detail (everyone signed in), version pages with what
changed since the previous version, and the editor (MANAGE_REFERENCE over the county: others get
403 on every editor URL). Views stay thin: parse with a form, call a service, render."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from yingji.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from yingji.core.views import _form_error

from . import forms, queries, services
from .models import ChecklistItem, ChecklistSection, ChecklistVersion, VersionStatus


def _require_editor(request) -> None:
    if not services.can_manage(request.user):
        raise Forbidden(_("只有市级管理员可以维护检查清单"))


def _get(model, pk):
    obj = model.objects.select_related("version__module").filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def _version_url(version_id, anchor: str = "") -> str:
    return reverse("checklists:version", args=[version_id]) + (f"#{anchor}" if anchor else "")


# ---------------------------------------------------------------- reading

@login_required
def module_list(request):
    modules = list(queries.modules_for(request.user))
    for m in modules:
        m.applies = queries.applicability(m)
    return render(request, "checklists/list.html", {
        "modules": modules, "can_manage": services.can_manage(request.user)})


@login_required
def module_detail(request, pk):
    module = queries.get_module(request.user, pk)
    module.applies = queries.applicability(module)
    current = ChecklistVersion.objects.filter(pk=module.current_id).first() if module.current_id else None
    return render(request, "checklists/detail.html", {
        "module": module, "current": current,
        "sections": queries.sections_with_items(current) if current else [],
        "versions": queries.versions_of(request.user, module),
        "can_manage": services.can_manage(request.user) and not module.is_archived,
    })


@login_required
def version_detail(request, pk):
    version = queries.get_version(request.user, pk)
    editing = version.status == VersionStatus.DRAFT and services.can_manage(request.user)
    sections = queries.sections_with_items(version)
    changes = queries.diff(version)
    queries.mark_changes(sections, changes)
    return render(request, "checklists/version.html", {
        "version": version, "module": version.module, "sections": sections, "diff": changes,
        "editing": editing, "item_total": sum(len(s.item_list) for s in sections),
        "section_form": forms.SectionForm(auto_id="id_new_section_%s") if editing else None,
        "publish_form": forms.PublishForm() if editing else None,
    })


# ---------------------------------------------------------------- modules (editor)

def _module_fields(data) -> dict:
    return {"name": data["name"], "description": data.get("description", ""),
            "applies_to_all": data.get("applies_to_all", False), "sectors": list(data.get("sectors") or []),
            "traits": list(data.get("traits") or []), "site_kinds": list(data.get("site_kinds") or []),
            "sort": data.get("sort")}


@login_required
def module_create(request):
    _require_editor(request)
    form = forms.ModuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            module = services.create_module(request.user, code=form.cleaned_data["code"],
                                            **_module_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("已创建检查清单模块“%(name)s”,请添加分节和检查项后发布") % {"name": module.name})
            return redirect(_version_url(services.draft_of(module).pk))
    return render(request, "checklists/module_form.html", {"form": form, "module": None},
                  status=400 if form.errors else 200)


@login_required
def module_edit(request, pk):
    _require_editor(request)
    module = queries.get_module(request.user, pk)
    initial = {"code": module.code, "name": module.name, "description": module.description,
               "applies_to_all": module.applies_to_all, "sectors": list(module.sectors.all()),
               "traits": list(module.traits.all()), "site_kinds": module.site_kinds, "sort": module.sort}
    form = forms.ModuleForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_module(request.user, module, **_module_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("checklists:detail", pk=module.pk)
        else:
            messages.success(request, _("已保存"))
            return redirect("checklists:detail", pk=module.pk)
    return render(request, "checklists/module_form.html", {"form": form, "module": module},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def module_archive(request, pk):
    _require_editor(request)
    module = queries.get_module(request.user, pk)
    try:
        services.archive_module(request.user, module)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已归档“%(name)s”,不再用于新的检查") % {"name": module.name})
    return redirect("checklists:detail", pk=module.pk)


@login_required
@require_POST
def module_revise(request, pk):
    _require_editor(request)
    module = queries.get_module(request.user, pk)
    try:
        draft = services.start_revision(request.user, module)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("checklists:detail", pk=module.pk)
    return redirect(_version_url(draft.pk))


# ---------------------------------------------------------------- versions (editor)

@login_required
@require_POST
def version_publish(request, pk):
    _require_editor(request)
    version = queries.get_version(request.user, pk)
    form = forms.PublishForm(request.POST)
    note = form.cleaned_data.get("note", "") if form.is_valid() else request.POST.get("note", "")
    try:
        services.publish(request.user, version, note=note)
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.message)
        return redirect(_version_url(version.pk))
    messages.success(request, _("已发布第%(n)d版,新的检查将使用此版本") % {"n": version.number})
    return redirect("checklists:detail", pk=version.module_id)


@login_required
@require_POST
def version_discard(request, pk):
    _require_editor(request)
    version = queries.get_version(request.user, pk)
    try:
        module = services.discard_draft(request.user, version)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect(_version_url(version.pk))
    messages.success(request, _("已放弃草稿"))
    return redirect("checklists:detail", pk=module.pk)


# ---------------------------------------------------------------- sections (editor)

@login_required
@require_POST
def section_add(request, pk):
    _require_editor(request)
    version = queries.get_version(request.user, pk)
    form = forms.SectionForm(request.POST)
    if form.is_valid():
        try:
            section = services.add_section(request.user, version, title=form.cleaned_data["title"])
        except InvalidInput as exc:
            _form_error(form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect(_version_url(version.pk))
        else:
            return redirect(_version_url(version.pk, f"section-{section.pk}"))
    return render(request, "checklists/section_form.html", {"form": form, "version": version, "section": None},
                  status=400)


@login_required
def section_edit(request, pk):
    _require_editor(request)
    section = _get(ChecklistSection, pk)
    form = forms.SectionForm(request.POST or None, initial={"title": section.title})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_section(request.user, section, title=form.cleaned_data["title"])
        except InvalidInput as exc:
            _form_error(form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect(_version_url(section.version_id))
        else:
            return redirect(_version_url(section.version_id, f"section-{section.pk}"))
    return render(request, "checklists/section_form.html",
                  {"form": form, "version": section.version, "section": section}, status=400 if form.errors else 200)


@login_required
@require_POST
def section_move(request, pk, direction):
    return _move(request, ChecklistSection, pk, direction, services.move_section, "section")


@login_required
@require_POST
def section_remove(request, pk):
    return _remove(request, ChecklistSection, pk, services.remove_section,
                   lambda s: _("已删除分节“%(t)s”") % {"t": s.title}, lambda s: None)


def _move(request, model, pk, direction, move, anchor: str):
    """Move a section or an item up or down in its version (the editor's arrows)."""
    _require_editor(request)
    obj = _get(model, pk)
    try:
        move(request.user, obj, direction)
    except (InvalidInput, Conflict) as exc:
        messages.error(request, exc.message)
    return redirect(_version_url(obj.version_id, f"{anchor}-{obj.pk}"))


def _remove(request, model, pk, remove, done_message, anchor):
    """Remove a section or an item from a draft version."""
    _require_editor(request)
    obj = _get(model, pk)
    try:
        remove(request.user, obj)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done_message(obj))
    return redirect(_version_url(obj.version_id, anchor(obj)))


# ---------------------------------------------------------------- items (editor)

def _item_fields(data) -> dict:
    fields = {k: data.get(k) for k in ("code", "question", "basis", "hazard_level", "criterion", "category",
                                      "photo_required")}
    if data.get("section") is not None:
        fields["section"] = data["section"]
    return fields


@login_required
def item_add(request, pk):
    _require_editor(request)
    section = _get(ChecklistSection, pk)
    form = forms.ItemForm(request.POST or None, auto_id=f"id_new_item_{section.pk}_%s")
    if request.method == "POST" and form.is_valid():
        try:
            item = services.add_item(request.user, section, **_item_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect(_version_url(section.version_id))
        else:
            messages.success(request, _("已添加检查项 %(code)s") % {"code": item.code})
            return redirect(_version_url(section.version_id, f"item-{item.pk}"))
    return render(request, "checklists/item_form.html", {"form": form, "version": section.version,
                                                         "section": section, "item": None},
                  status=400 if form.errors else 200)


@login_required
def item_edit(request, pk):
    _require_editor(request)
    item = _get(ChecklistItem, pk)
    initial = {"code": item.code, "question": item.question, "basis": item.basis, "hazard_level": item.hazard_level,
               "criterion": item.criterion_id, "category": item.category, "photo_required": item.photo_required,
               "section": item.section_id}
    form = forms.ItemForm(request.POST or None, initial=initial, version=item.version, with_section=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_item(request.user, item, **_item_fields(form.cleaned_data))
        except InvalidInput as exc:
            _form_error(form, exc)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect(_version_url(item.version_id))
        else:
            messages.success(request, _("已保存检查项 %(code)s") % {"code": form.cleaned_data["code"]})
            return redirect(_version_url(item.version_id, f"item-{item.pk}"))
    return render(request, "checklists/item_form.html", {"form": form, "version": item.version,
                                                         "section": item.section, "item": item},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def item_move(request, pk, direction):
    return _move(request, ChecklistItem, pk, direction, services.move_item, "item")


@login_required
@require_POST
def item_remove(request, pk):
    return _remove(request, ChecklistItem, pk, services.remove_item,
                   lambda i: _("已删除检查项 %(code)s") % {"code": i.code}, lambda i: f"section-{i.section_id}")

