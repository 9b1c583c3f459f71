"""Forms of the rule editor: a formset of rules plus the thresholds. They only parse input; the
rules themselves are validated by ``services.publish_ruleset`` (one place, Chinese messages)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Colour, Factor


class RuleForm(forms.Form):
    factor = forms.ChoiceField(label=_("因素"), choices=[("", "——")] + list(Factor.choices), required=False)
    match = forms.CharField(label=_("匹配值"), max_length=32, required=False,
                            help_text=_("行业门类字母、行业大类代码、风险特征代码、对象类别、规模,或人数/最少项数"))
    points = forms.IntegerField(label=_("分值"), required=False)
    per_unit = forms.IntegerField(label=_("每项加分"), required=False)
    cap = forms.IntegerField(label=_("封顶"), required=False)
    floor_colour = forms.ChoiceField(label=_("最低等级"), choices=[("", "——")] + list(Colour.choices),
                                     required=False)
    label = forms.CharField(label=_("说明"), max_length=64, required=False)

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("factor") and not data.get("match") and data.get("points") is None


RuleFormSet = forms.formset_factory(RuleForm, extra=3, can_delete=True, max_num=500, absolute_max=500)


class ThresholdForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64, required=False)
    red = forms.IntegerField(label=_("红色(重大风险)分值下限"))
    orange = forms.IntegerField(label=_("橙色(较大风险)分值下限"))
    yellow = forms.IntegerField(label=_("黄色(一般风险)分值下限"))
    note = forms.CharField(label=_("修订说明"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))
