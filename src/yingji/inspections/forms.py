"""Forms of the inspection and campaign pages. They only parse input; the services decide."""
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from yingji.core.models import Area, AreaLevel, Organisation, Sector
from yingji.core.widgets import IsoDateField
from yingji.hazards.forms import AreaChoiceField, MultipleFileField, visible_areas
from yingji.hazards.models import Category, Level

from .models import CampaignStatus, InspectionState, Mode, Result


def _blank(choices, label=_("全部")):
    return [("", label)] + list(choices)


CAMPAIGN_CHOICES = 100


class InspectionFilterForm(forms.Form):
    mode = forms.ChoiceField(label=_("检查方式"), required=False, choices=_blank(Mode.choices))
    state = forms.ChoiceField(label=_("状态"), required=False, choices=_blank(InspectionState.choices))
    campaign = forms.ModelChoiceField(label=_("专项行动"), queryset=None, required=False, empty_label=_("全部"))
    area = AreaChoiceField(label=_("区域"), queryset=Area.objects.none(), required=False, empty_label=_("全部"))
    date_from = IsoDateField(label=_("检查日期自"), required=False)
    date_to = IsoDateField(label=_("至"), required=False)
    mine = forms.BooleanField(label=_("只看我负责的"), required=False)

    def __init__(self, *args, user, **kwargs):
        from .models import Campaign

        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = visible_areas(user)
        # Any visible campaign is a valid filter (the campaign page links here with ?campaign=pk);
        # the drop-down offers the latest CAMPAIGN_CHOICES open ones plus the chosen one. The
        # queryset itself must stay unsliced: ModelChoiceField validates with queryset.get(),
        # which a sliced queryset refuses, so every ?campaign= answered 400.
        field = self.fields["campaign"]
        field.queryset = Campaign.objects.visible_to(user)
        offered = list(field.queryset.filter(archived_at__isnull=True)
                       .order_by("-starts_on", "-id")[:CAMPAIGN_CHOICES])
        chosen = self.data.get("campaign") if self.is_bound else None
        if chosen and str(chosen).isdigit() and all(str(c.pk) != str(chosen) for c in offered):
            offered += list(field.queryset.filter(pk=int(chosen)))
        field.choices = [("", field.empty_label)] + [(c.pk, field.label_from_instance(c)) for c in offered]


class StartForm(forms.Form):
    mode = forms.ChoiceField(label=_("检查方式"), choices=())
    campaign = forms.TypedChoiceField(label=_("专项行动"), required=False, coerce=int, empty_value=None, choices=())
    sector = forms.TypedChoiceField(label=_("行业领域"), required=False, coerce=int, empty_value=None, choices=())
    inspectors = forms.TypedMultipleChoiceField(label=_("同行检查人员"), required=False, coerce=int, choices=(),
                                                help_text=_("可多选;只列出能查看该监管对象的监管人员"))
    place = forms.CharField(label=_("检查地点"), max_length=200, required=False)
    latitude = forms.CharField(required=False, widget=forms.HiddenInput)
    longitude = forms.CharField(required=False, widget=forms.HiddenInput)
    gps_accuracy = forms.CharField(required=False, widget=forms.HiddenInput)
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, modes, campaigns, sectors, colleagues=(), **kwargs):
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = [(m, Mode(m).label) for m in modes]
        self.fields["campaign"].choices = _blank([(c.pk, c.name) for c in campaigns], _("不属于专项行动"))
        self.fields["sector"].choices = _blank([(s.pk, s.name) for s in sectors], _("按身份自动确定"))
        self.fields["inspectors"].choices = [(u.pk, str(u)) for u in colleagues]
        if not colleagues:
            del self.fields["inspectors"]


class AnswerForm(forms.Form):
    result = forms.ChoiceField(choices=[c for c in Result.choices if c[0] != Result.PENDING],
                               error_messages={"required": _("请选择符合、不符合或不适用"),
                                               "invalid_choice": _("请选择符合、不符合或不适用")})
    note = forms.CharField(label=_("情况说明"), max_length=1000, required=False)
    files = MultipleFileField(label=_("现场照片"), required=False)


class _SectorChoice:
    """A failed item's hazard needs a sector: asked for only when it is not decided
    (``services.hazard_sector_choices``: the site has several, or none)."""

    def _sectors(self, sectors):
        if sectors:
            self.fields["sector"] = forms.TypedChoiceField(
                label=_("行业领域"), coerce=int, choices=[("", _("请选择"))] + [(s.pk, s.name) for s in sectors],
                error_messages={"required": _("请选择隐患所属的行业领域")})


class HazardForm(_SectorChoice, forms.Form):
    title = forms.CharField(label=_("隐患标题(确认前可修改)"), max_length=100, required=False,
                            help_text=_("默认:检查项简称 + 检查发现的情况"))
    description = forms.CharField(label=_("隐患描述"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    level = forms.ChoiceField(label=_("隐患等级"), choices=Level.choices)
    category = forms.ChoiceField(label=_("隐患类别"), choices=Category.choices)
    deadline = IsoDateField(label=_("建议整改期限"), required=False)
    responsible_unit = forms.CharField(label=_("整改责任单位"), max_length=100, required=False)
    responsible_person = forms.CharField(label=_("整改责任人"), max_length=32, required=False)
    files = MultipleFileField(label=_("隐患照片"), required=False)
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, sectors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._sectors(sectors)


class FixForm(_SectorChoice, forms.Form):
    rectification_description = forms.CharField(label=_("整改情况"), max_length=2000,
                                                 widget=forms.Textarea(attrs={"rows": 2}))
    files = MultipleFileField(label=_("整改后照片(至少一张)"), required=False)
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, sectors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._sectors(sectors)


class CompleteForm(forms.Form):
    summary = forms.CharField(label=_("检查结论"), max_length=5000, required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("归档理由"), max_length=500)


class CampaignFilterForm(forms.Form):
    q = forms.CharField(label=_("名称"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("状态"), required=False, choices=_blank(CampaignStatus.choices))


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    area = AreaChoiceField(label=_("组织区域"), queryset=Area.objects.none(), empty_label=_("请选择"))
    organiser = forms.ModelChoiceField(label=_("牵头单位"), queryset=Organisation.objects.none(), required=False,
                                       empty_label=_("无"))
    starts_on = IsoDateField(label=_("开始日期"))
    ends_on = IsoDateField(label=_("结束日期"))
    description = forms.CharField(label=_("工作要求"), max_length=5000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    scope_areas = forms.ModelMultipleChoiceField(label=_("范围:区域(不选为组织区域全部)"), queryset=Area.objects.none(),
                                                 required=False)
    scope_sectors = forms.ModelMultipleChoiceField(label=_("范围:行业领域(不选为全部)"), queryset=Sector.objects.none(),
                                                   required=False)
    scope_traits = forms.ModelMultipleChoiceField(label=_("范围:风险特征(不选为全部)"), queryset=None, required=False)
    scope_kinds = forms.MultipleChoiceField(label=_("范围:对象类别(不选为全部)"), choices=(), required=False)
    target_coverage = forms.DecimalField(label=_("目标覆盖率(%)"), required=False, min_value=0, max_value=100,
                                         max_digits=5, decimal_places=2,
                                         error_messages={"invalid": _("目标覆盖率须为数字")})
    target_note = forms.CharField(label=_("目标说明"), max_length=500, required=False)

    def __init__(self, *args, user, **kwargs):
        from yingji.registry.models import RiskTrait, SiteKind

        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = visible_areas(user, AreaLevel.TOWN)
        self.fields["scope_areas"].queryset = visible_areas(user, AreaLevel.VILLAGE)
        self.fields["organiser"].queryset = Organisation.objects.filter(archived_at__isnull=True).order_by("sort", "id")
        self.fields["scope_sectors"].queryset = Sector.objects.filter(archived_at__isnull=True)
        self.fields["scope_traits"].queryset = RiskTrait.objects.all()
        self.fields["scope_kinds"].choices = SiteKind.choices


class AssignmentForm(forms.Form):
    task = forms.CharField(label=_("任务"), max_length=500)
    area = AreaChoiceField(label=_("责任区域"), queryset=Area.objects.none(), required=False, empty_label=_("无"))
    organisation = forms.ModelChoiceField(label=_("责任单位"), queryset=Organisation.objects.none(), required=False,
                                          empty_label=_("无"))
    user = forms.ModelChoiceField(label=_("责任人"), queryset=None, required=False, empty_label=_("无"))
    target_sites = forms.IntegerField(label=_("目标检查家数"), required=False, min_value=0,
                                      error_messages={"invalid": _("目标检查家数须为整数")})

    def __init__(self, *args, user, campaign, **kwargs):
        from yingji.core import roles
        from yingji.core.models import RoleAssignment, User

        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = visible_areas(user, AreaLevel.VILLAGE).filter(
            code__startswith=campaign.area.code)
        self.fields["organisation"].queryset = Organisation.objects.filter(archived_at__isnull=True).order_by(
            "sort", "id")
        # Officers only (a bounded list): grid workers are reached through their town.
        officers = RoleAssignment.objects.filter(revoked_at__isnull=True, role__in=[
            roles.INSPECTOR, roles.DEPT_OFFICER, roles.TOWN_OFFICER]).values("user_id")
        self.fields["user"].queryset = (User.objects.visible_to(user).filter(is_active=True, pk__in=officers)
                                        .order_by("username"))
