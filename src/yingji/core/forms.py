from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import roles
from .models import Area, AreaLevel, Organisation, Sector
from .scoping import grants_for
from .widgets import IsoDateField


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, max_length=128)


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("原密码"), widget=forms.PasswordInput)
    new_password = forms.CharField(label=_("新密码"), widget=forms.PasswordInput)
    new_password2 = forms.CharField(label=_("确认新密码"), widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("new_password2"):
            self.add_error("new_password2", _("两次输入的新密码不一致"))
        return data


class AreaForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64)
    kind = forms.CharField(label=_("类型"), max_length=16, required=False)
    code = forms.CharField(label=_("区划代码"), max_length=20, required=False,
                           help_text=_("留空则自动编号"))
    latitude = forms.DecimalField(label=_("纬度"), required=False, max_digits=9, decimal_places=6)
    longitude = forms.DecimalField(label=_("经度"), required=False, max_digits=9, decimal_places=6)


class AreaMoveForm(forms.Form):
    new_parent = forms.ModelChoiceField(label=_("移至"), queryset=Area.objects.none())

    def __init__(self, *args, user, area, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["new_parent"].queryset = (
            Area.objects.editable_by(user).filter(level=area.level - 1, archived_at__isnull=True)
            .exclude(pk=area.parent_id)
        )


def _area_choices(user, capability):
    """Live areas inside the subtrees where ``user`` holds ``capability`` (not merely "view")."""
    condition = None
    for g in grants_for(user):
        if g.site_ids is not None or not g.allows(capability):
            continue
        part = Q(code__startswith=g.area_code)
        condition = part if condition is None else condition | part
    if condition is None:
        return Area.objects.none()
    return Area.objects.visible_to(user).filter(condition, archived_at__isnull=True, level__lte=AreaLevel.GRID)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("角色"), choices=roles.ROLE_CHOICES)
    area = forms.ModelChoiceField(label=_("管辖区域"), queryset=Area.objects.none())
    sectors = forms.ModelMultipleChoiceField(label=_("行业领域(可选)"), queryset=Sector.objects.none(),
                                             required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = _area_choices(user, roles.MANAGE_USERS).filter(level__lte=AreaLevel.VILLAGE)
        self.fields["sectors"].queryset = Sector.objects.filter(archived_at__isnull=True)
        # Only the roles this user may grant somewhere (the service re-checks the area).
        grantable = set()
        for g in grants_for(user):
            if g.allows(roles.MANAGE_USERS):
                grantable |= roles.GRANTABLE.get(g.role, frozenset())
        self.fields["role"].choices = [(r, label) for r, label in roles.ROLE_CHOICES if r in grantable]


class UserCreateForm(RoleForm):
    username = forms.CharField(label=_("用户名"), max_length=150)
    display_name = forms.CharField(label=_("姓名"), max_length=32)
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)
    organisation = forms.ModelChoiceField(label=_("所属单位"), queryset=Organisation.objects.none(), required=False)
    password = forms.CharField(label=_("初始密码"), widget=forms.PasswordInput)

    field_order = ["username", "display_name", "phone", "organisation", "password", "role", "area", "sectors"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.filter(archived_at__isnull=True)


class UserEditForm(forms.Form):
    display_name = forms.CharField(label=_("姓名"), max_length=32)
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)
    organisation = forms.ModelChoiceField(label=_("所属单位"), queryset=Organisation.objects.none(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Organisation.objects.filter(archived_at__isnull=True)


class ResetPasswordForm(forms.Form):
    new_password = forms.CharField(label=_("新密码"), widget=forms.PasswordInput)


class AuditFilterForm(forms.Form):
    model = forms.ChoiceField(label=_("对象类型"), required=False)
    object_id = forms.IntegerField(label=_("对象编号"), required=False, min_value=1)
    actor = forms.CharField(label=_("操作人"), required=False, max_length=150)
    action = forms.CharField(label=_("操作"), required=False, max_length=64)
    since = IsoDateField(label=_("开始日期"), required=False)
    until = IsoDateField(label=_("结束日期"), required=False)
    include_system = forms.BooleanField(label=_("显示系统任务记录"), required=False)

    def __init__(self, *args, model_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", _("全部"))] + model_choices
