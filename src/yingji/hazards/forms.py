"""Forms of the hazard pages. They only parse input; the services validate and decide."""
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from yingji.core.models import Area, AreaLevel, Sector
from yingji.core.widgets import FastSelect, IsoDateField

from .models import Category, Level, Source, State


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return "\u3000" * max(0, obj.level - AreaLevel.TOWN) + obj.name


def _blank(choices, label=_("全部")):
    return [("", label)] + list(choices)


def visible_areas(user, max_level=AreaLevel.VILLAGE):
    return (Area.objects.visible_to(user)
            .filter(archived_at__isnull=True, level__lte=max_level).order_by("code"))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (``<input type=file multiple>``); an empty list when none."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*,.pdf,.doc,.docx,.xls,.xlsx"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class HazardFilterForm(forms.Form):
    q = forms.CharField(label=_("关键词/编号"), required=False, max_length=100)
    state = forms.ChoiceField(label=_("状态"), required=False, choices=_blank(
        [("open", _("未销号"))] + [c for c in State.choices if c[0] != State.DRAFT]))
    level = forms.ChoiceField(label=_("等级"), required=False, choices=_blank(Level.choices))
    area = AreaChoiceField(label=_("区域"), queryset=Area.objects.none(), required=False, empty_label=_("全部"))
    sector = forms.ModelChoiceField(label=_("行业领域"), queryset=Sector.objects.none(), required=False,
                                    empty_label=_("全部"))
    source = forms.ChoiceField(label=_("来源"), required=False, choices=_blank(Source.choices))
    overdue = forms.BooleanField(label=_("仅看超期"), required=False)

    def __init__(self, *args, user, **kwargs):
        from yingji.core.scoping import grants_for

        super().__init__(*args, **kwargs)
        # Any visible area (down to villages) is a valid filter, but the drop-down offers only one
        # level below the user's outermost area (county users: towns; town users: their villages)
        # plus the chosen one, so the list page stays light at county scale.
        field = self.fields["area"]
        field.queryset = visible_areas(user)
        top = min((len(g.area_code) for g in grants_for(user) if g.site_ids is None), default=12)
        depth = {6: AreaLevel.TOWN, 9: AreaLevel.VILLAGE}.get(top, AreaLevel.VILLAGE)
        offered = list(visible_areas(user, depth))
        chosen = self.data.get("area") if self.is_bound else None
        if chosen and str(chosen).isdigit() and all(str(a.pk) != str(chosen) for a in offered):
            offered += list(field.queryset.filter(pk=int(chosen)))
        field.choices = [("", field.empty_label)] + [(a.pk, field.label_from_instance(a)) for a in offered]
        self.fields["sector"].queryset = Sector.objects.filter(archived_at__isnull=True)
        for name in ("state", "level", "area", "sector", "source"):
            widget = FastSelect(attrs=self.fields[name].widget.attrs)
            widget.choices = self.fields[name].widget.choices
            self.fields[name].widget = widget


class ReportForm(forms.Form):
    site = forms.IntegerField(label=_("监管对象"), required=False, widget=forms.HiddenInput)
    area = AreaChoiceField(label=_("所属区域(无监管对象时)"), queryset=Area.objects.none(), required=False,
                           empty_label=_("请选择"))
    sector = forms.ModelChoiceField(label=_("行业领域"), queryset=Sector.objects.none(), required=False,
                                    empty_label=_("按监管对象自动确定"))
    level = forms.ChoiceField(label=_("隐患等级"), choices=Level.choices, initial=Level.GENERAL)
    category = forms.ChoiceField(label=_("隐患类别"), choices=Category.choices)
    source = forms.ChoiceField(label=_("来源"), required=False, choices=_blank(Source.choices, _("按身份自动确定")))
    title = forms.CharField(label=_("标题"), max_length=100, required=False, help_text=_("可不填,默认取描述前30字"))
    description = forms.CharField(label=_("隐患描述"), max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    location = forms.CharField(label=_("具体位置"), max_length=200, required=False)
    files = MultipleFileField(label=_("现场照片"), required=False)
    deadline = IsoDateField(label=_("建议整改期限"), required=False)
    # 当场整改: only supervising officers (EDIT) see these; the service decides in any case.
    fixed_on_spot = forms.BooleanField(label=_("当场整改(发现即整改完毕,直接销号)"), required=False)
    rectification_description = forms.CharField(label=_("当场整改情况"), max_length=2000, required=False,
                                                 widget=forms.Textarea(attrs={"rows": 2}))
    cost = forms.DecimalField(label=_("整改资金(元)"), required=False, min_value=0, max_digits=12, decimal_places=2,
                              error_messages={"invalid": _("请输入金额")})
    rectification_files = MultipleFileField(label=_("整改后照片/材料"), required=False)
    latitude = forms.CharField(required=False, widget=forms.HiddenInput)
    longitude = forms.CharField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)

    SPOT_FIELDS = ("fixed_on_spot", "rectification_description", "cost", "rectification_files")

    def __init__(self, *args, user, site=None, **kwargs):
        from yingji.core import roles
        from yingji.core.scoping import grants_for

        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = visible_areas(user, AreaLevel.VILLAGE)
        self._sector_choices(user, site)
        officer = any(g.allows(roles.EDIT) and g.site_ids is None for g in grants_for(user))
        if not officer:
            for name in self.SPOT_FIELDS:
                del self.fields[name]


    def _sector_choices(self, user, site) -> None:
        """Every hazard has a sector. With a site, the choice is among the site's sectors, and
        required when the site has several and the reporter's identity does not decide (the
        service refuses such a report without one: 422)."""
        from .services import sector_candidates

        field = self.fields["sector"]
        live = Sector.objects.filter(archived_at__isnull=True)
        field.queryset = live
        if site is None:
            field.empty_label = _("按身份自动确定(无法确定时须选择)")
            return
        site_sectors = list(site.sectors.filter(archived_at__isnull=True).order_by("sort", "id"))
        if site_sectors:
            field.queryset = live.filter(pk__in=[x.pk for x in site_sectors])
        candidates = sector_candidates(user, [x.pk for x in site_sectors], site.area)
        if len(candidates) != 1:
            field.required = True
            field.empty_label = _("请选择")
            field.help_text = (_("该监管对象涉及多个行业领域,请选择隐患所属的行业领域") if len(candidates) > 1
                               else _("请选择隐患所属的行业领域"))
            field.error_messages["required"] = field.help_text


class AcceptForm(forms.Form):
    responsible_unit = forms.CharField(label=_("整改责任单位"), max_length=100, required=False)
    responsible_person = forms.CharField(label=_("整改责任人"), max_length=32)
    responsible_phone = forms.CharField(label=_("责任人电话"), max_length=20, required=False)
    deadline = IsoDateField(label=_("整改期限"))
    note = forms.CharField(label=_("说明"), max_length=500, required=False)


class RectificationForm(forms.Form):
    description = forms.CharField(label=_("整改情况"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    cost = forms.DecimalField(label=_("整改资金(元)"), required=False, min_value=0, max_digits=12, decimal_places=2,
                              error_messages={"invalid": _("请输入金额")})
    files = MultipleFileField(label=_("整改后照片/材料(至少一个)"), required=False)


class VerifyForm(forms.Form):
    note = forms.CharField(label=_("验收意见"), max_length=500, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


ACTION_FORMS = {"accept": AcceptForm, "submit_rectification": RectificationForm, "verify": VerifyForm,
                "send_back": ReasonForm, "archive": ReasonForm}
