"""Forms of the supervision pages. They only parse input; the services validate and decide."""
from django import forms
from django.utils.translation import gettext_lazy as _

from yingji.core.models import Organisation, OrgKind
from yingji.core.widgets import IsoDateField

from .models import ListingLevel, ListingState, Shutdown

def _blank(choices, label=_("全部")):
    return [("", label)] + list(choices)


class FilterForm(forms.Form):
    q = forms.CharField(label=_("关键词/编号"), required=False, max_length=100)
    level = forms.ChoiceField(label=_("挂牌级别"), required=False, choices=_blank(ListingLevel.choices))
    state = forms.ChoiceField(label=_("状态"), required=False,
                              choices=_blank([("active", _("督办中(未验收)"))] + list(ListingState.choices)))
    overdue = forms.BooleanField(label=_("仅看超期"), required=False)
    pending_extension = forms.BooleanField(label=_("仅看待审批延期"), required=False)


class ListingForm(forms.Form):
    level = forms.ChoiceField(label=_("挂牌级别"), choices=())
    listing_body = forms.ModelChoiceField(label=_("挂牌单位"), queryset=Organisation.objects.none(), required=False,
                                          empty_label=_("请选择"))
    listing_body_name = forms.CharField(label=_("挂牌单位名称(列表中没有时填写)"), max_length=100, required=False)
    notice_number = forms.CharField(label=_("督办通知书文号"), max_length=64)
    notice_text = forms.CharField(label=_("督办要求"), max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))
    deadline = IsoDateField(label=_("整改期限(最长一年)"))
    shutdown = forms.ChoiceField(label=_("停产情况"), choices=Shutdown.choices, initial=Shutdown.NONE)
    public_title = forms.CharField(label=_("公开标题(不含个人姓名、电话)"), max_length=100, required=False)
    publishable = forms.BooleanField(label=_("向社会公开"), required=False, initial=True)

    def __init__(self, *args, levels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [(v, ListingLevel(v).label) for v in levels]
        self.fields["listing_body"].queryset = Organisation.objects.filter(
            archived_at__isnull=True, kind__in=[OrgKind.COMMITTEE, OrgKind.SUB_COMMITTEE, OrgKind.TOWN_OFFICE,
                                                OrgKind.DEPARTMENT]).order_by("kind", "sort", "code")


class PlanForm(forms.Form):
    measures = forms.CharField(label=_("整改措施(措施落实)"), max_length=4000, required=False,
                               widget=forms.Textarea(attrs={"rows": 3}))
    funds = forms.DecimalField(label=_("整改资金(元)(资金落实)"), required=False, max_digits=14, decimal_places=2,
                               error_messages={"invalid": _("请输入金额")})
    responsible_people = forms.CharField(label=_("责任人员(责任落实)"), max_length=200, required=False)
    plan_deadline = IsoDateField(label=_("完成时限(时限落实)"), required=False)
    contingency = forms.CharField(label=_("应急预案(预案落实)"), max_length=4000, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))


class ShutdownForm(forms.Form):
    shutdown = forms.ChoiceField(label=_("停产情况"), choices=Shutdown.choices)
    note = forms.CharField(label=_("说明"), max_length=500, required=False)


class ExtensionForm(forms.Form):
    new_deadline = IsoDateField(label=_("申请延至"), required=False)
    reason = forms.CharField(label=_("延期理由"), max_length=2000, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


class DecideForm(forms.Form):
    approve = forms.TypedChoiceField(label=_("审批结果"), choices=[("1", _("批准延期")), ("0", _("不予批准"))],
                                     coerce=lambda v: v == "1")
    note = forms.CharField(label=_("审批意见(不予批准时必填)"), max_length=500, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("说明"), max_length=500, required=False)


class AcceptanceForm(forms.Form):
    passed = forms.TypedChoiceField(label=_("验收结果"), choices=[("1", _("验收通过")), ("0", _("验收不通过"))],
                                    coerce=lambda v: v == "1")
    note = forms.CharField(label=_("验收意见(不通过时必填)"), max_length=500, required=False)


class PublicForm(forms.Form):
    public_title = forms.CharField(label=_("公开标题(不含个人姓名、电话)"), max_length=100, required=False)
    publishable = forms.BooleanField(label=_("向社会公开"), required=False)


class ConfirmForm(forms.Form):
    pass


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("归档理由"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))


ACTION_FORMS = {
    "publish_notice": ConfirmForm,
    "set_public": PublicForm,
    "file_plan": PlanForm,
    "shutdown": ShutdownForm,
    "request_extension": ExtensionForm,
    "request_acceptance": NoteForm,
    "acceptance": AcceptanceForm,
    "delist": NoteForm,
    "publish_delisting": ConfirmForm,
    "archive": ReasonForm,
}
