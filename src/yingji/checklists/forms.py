"""Forms of the checklist editor. They only parse input; the services validate and decide."""
from django import forms
from django.utils.translation import gettext_lazy as _

from yingji.core.models import Sector

from .models import ChecklistSection, HazardLevel, MajorHazardCriterion


def _kind_choices():
    from yingji.registry.models import SiteKind

    return SiteKind.choices


def _category_choices():
    from yingji.hazards.models import Category

    return Category.choices


class ModuleForm(forms.Form):
    code = forms.CharField(label=_("编码"), max_length=32, help_text=_("小写字母、数字或下划线,如 dust"))
    name = forms.CharField(label=_("名称"), max_length=64)
    description = forms.CharField(label=_("说明"), max_length=500, required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    applies_to_all = forms.BooleanField(label=_("适用于所有监管对象"), required=False)
    sectors = forms.ModelMultipleChoiceField(label=_("适用行业领域"), queryset=Sector.objects.none(), required=False,
                                             widget=forms.CheckboxSelectMultiple)
    traits = forms.ModelMultipleChoiceField(label=_("适用风险特征"), queryset=Sector.objects.none(), required=False,
                                            widget=forms.CheckboxSelectMultiple)
    site_kinds = forms.MultipleChoiceField(label=_("适用对象类别"), choices=(), required=False,
                                           widget=forms.CheckboxSelectMultiple)
    sort = forms.IntegerField(label=_("排序"), required=False, min_value=0, max_value=9999)

    def __init__(self, *args, editing: bool = False, **kwargs):
        from yingji.registry.models import RiskTrait

        super().__init__(*args, **kwargs)
        self.fields["sectors"].queryset = Sector.objects.filter(archived_at__isnull=True).order_by("sort", "code")
        self.fields["traits"].queryset = RiskTrait.objects.filter(archived_at__isnull=True)
        self.fields["site_kinds"].choices = _kind_choices()
        if editing:
            self.fields["code"].disabled = True


class SectionForm(forms.Form):
    title = forms.CharField(label=_("分节标题"), max_length=100)


class ItemForm(forms.Form):
    code = forms.CharField(label=_("编号"), max_length=32, help_text=_("如 FC-01,同一版本内不能重复"))
    question = forms.CharField(label=_("检查内容"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))
    basis = forms.CharField(label=_("依据"), max_length=500, required=False,
                            help_text=_("法规条款或标准,如《安全生产法》第二十一条"))
    hazard_level = forms.ChoiceField(label=_("不符合时隐患等级"), choices=HazardLevel.choices,
                                     initial=HazardLevel.GENERAL)
    criterion = forms.ModelChoiceField(label=_("对应重大隐患判定条款"), queryset=MajorHazardCriterion.objects.all(),
                                       required=False, empty_label=_("无"))
    category = forms.ChoiceField(label=_("隐患类别"), choices=())
    photo_required = forms.BooleanField(label=_("不符合时须拍照"), required=False)
    section = forms.ModelChoiceField(label=_("所属分节"), queryset=ChecklistSection.objects.none(), required=False,
                                     empty_label=None)

    def __init__(self, *args, version=None, with_section: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _category_choices()
        self.fields["criterion"].label_from_instance = lambda c: f"{c.clause} {c.text[:40]}"
        if with_section and version is not None:
            self.fields["section"].queryset = version.sections.order_by("order", "id")
        else:
            del self.fields["section"]


class PublishForm(forms.Form):
    note = forms.CharField(label=_("修订说明"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))
