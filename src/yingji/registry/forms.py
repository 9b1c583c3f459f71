"""Forms of the site registry pages. They only parse input; the services validate and decide."""
from django import forms
from django.utils.translation import gettext_lazy as _

from yingji.core.models import Area, AreaLevel, Sector
from yingji.core.scoping import grants_for

from .models import Industry, RiskColour, RiskTrait, SiteKind, SiteScale, SiteStatus


class AreaChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return "\u3000" * max(0, obj.level - AreaLevel.TOWN) + obj.name


class IndustryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        indent = "" if obj.is_section else "\u3000"
        return f"{indent}{obj.code} {obj.name}"


def area_choices(user, max_level=AreaLevel.GRID):
    return (Area.objects.visible_to(user)
            .filter(archived_at__isnull=True, level__gte=AreaLevel.TOWN, level__lte=max_level).order_by("code"))


def _blank(choices, label=_("全部")):
    return [("", label)] + list(choices)


class SiteFilterForm(forms.Form):
    q = forms.CharField(label=_("名称/地址/拼音首字母/信用代码"), required=False, max_length=100)
    area = AreaChoiceField(label=_("区域"), queryset=Area.objects.none(), required=False, empty_label=_("全部"))
    sector = forms.ModelChoiceField(label=_("行业领域"), queryset=Sector.objects.none(), required=False,
                                    empty_label=_("全部"))
    industry = IndustryChoiceField(label=_("国民经济行业"), queryset=Industry.objects.none(), required=False,
                                   empty_label=_("全部"), to_field_name="code")
    trait = forms.ModelChoiceField(label=_("风险特征"), queryset=RiskTrait.objects.none(), required=False,
                                   empty_label=_("全部"), to_field_name="code")
    colour = forms.ChoiceField(label=_("风险等级"), required=False, choices=_blank(RiskColour.choices))
    status = forms.ChoiceField(label=_("经营状态"), required=False, choices=_blank(SiteStatus.choices))
    kind = forms.ChoiceField(label=_("类别"), required=False, choices=_blank(SiteKind.choices))
    archived = forms.BooleanField(label=_("含已归档"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # One level below the user's outermost area (county users: towns; town users: their villages),
        # so the page stays light at county scale; deeper areas are reached from the area pages.
        levels = [len(g.area_code) for g in grants_for(user) if g.site_ids is None]
        top = min(levels, default=12)
        depth = {6: AreaLevel.TOWN, 9: AreaLevel.VILLAGE}.get(top, AreaLevel.VILLAGE)
        self.fields["area"].queryset = area_choices(user, depth)
        self.fields["sector"].queryset = Sector.objects.filter(archived_at__isnull=True)
        self.fields["industry"].queryset = Industry.objects.order_by("section", "level", "code")
        self.fields["trait"].queryset = RiskTrait.objects.filter(archived_at__isnull=True)


class SiteForm(forms.Form):
    kind = forms.ChoiceField(label=_("类别"), choices=SiteKind.choices)
    name = forms.CharField(label=_("名称"), max_length=100)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=40, required=False,
                                  help_text=_("18位;企业必填,其他类别可不填"))
    area = AreaChoiceField(label=_("所属区域"), queryset=Area.objects.none(), empty_label=_("请选择"))
    address = forms.CharField(label=_("地址"), max_length=200, required=False)
    industry = IndustryChoiceField(label=_("国民经济行业"), queryset=Industry.objects.none(), required=False,
                                   empty_label=_("未填"))
    sectors = forms.ModelMultipleChoiceField(label=_("监管行业领域"), queryset=Sector.objects.none(), required=False)
    traits = forms.ModelMultipleChoiceField(label=_("风险特征"), queryset=RiskTrait.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple)
    scale = forms.ChoiceField(label=_("规模"), choices=_blank(SiteScale.choices, _("未填")), required=False)
    employees = forms.IntegerField(label=_("从业人数"), required=False, min_value=0,
                                   error_messages={"invalid": _("请输入整数")})
    status = forms.ChoiceField(label=_("经营状态"), choices=SiteStatus.choices)
    latitude = forms.DecimalField(label=_("纬度(WGS-84)"), required=False, max_digits=9, decimal_places=6,
                                  error_messages={"invalid": _("请输入数字")})
    longitude = forms.DecimalField(label=_("经度(WGS-84)"), required=False, max_digits=9, decimal_places=6,
                                   error_messages={"invalid": _("请输入数字")})
    legal_rep = forms.CharField(label=_("法定代表人"), max_length=32, required=False)
    legal_rep_phone = forms.CharField(label=_("法定代表人电话"), max_length=20, required=False)
    safety_manager = forms.CharField(label=_("安全负责人"), max_length=32, required=False)
    safety_manager_phone = forms.CharField(label=_("安全负责人电话"), max_length=20, required=False)
    note = forms.CharField(label=_("备注"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = area_choices(user)
        self.fields["industry"].queryset = Industry.objects.order_by("section", "level", "code")
        self.fields["sectors"].queryset = Sector.objects.filter(archived_at__isnull=True)
        self.fields["traits"].queryset = RiskTrait.objects.filter(archived_at__isnull=True)


class HostForm(forms.Form):
    host = forms.CharField(label=_("所在厂房/园区"), max_length=100, required=False,
                           help_text=_("填写对方的编号、统一社会信用代码或完整名称;留空则解除挂靠"))


class BindManagerForm(forms.Form):
    username = forms.CharField(label=_("企业账号用户名"), max_length=150)
