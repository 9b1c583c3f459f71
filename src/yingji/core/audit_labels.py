"""Readable (Chinese) names of audit actions: ``"hazard.send_back"`` → ``隐患:退回``.

An action is ``<object>.<verb>``; each part has a label here. Unknown parts show as they are, so a
new action is never hidden, only less pretty until it gets a label.
"""
from django.utils.translation import gettext_lazy as _

OBJECTS = {
    "admin": _("后台"), "area": _("区域"), "attachment": _("附件"), "auth": _("账号"), "hazard": _("隐患"),
    "job": _("后台任务"), "notification": _("通知"), "organisation": _("组织机构"), "outbox": _("外发消息"),
    "registry": _("监管对象导入"), "risk": _("风险分级"), "sector": _("行业领域"), "site": _("监管对象"),
    "token": _("API令牌"), "user": _("用户"), "checklist": _("检查清单"), "inspection": _("检查"),
    "campaign": _("专项行动"), "supervision": _("挂牌督办"), "stats": _("统计数据"), "audit": _("审计日志"),
}

VERBS = {
    "accept": _("受理"), "activate": _("启用"), "add": _("新增"), "archive": _("归档"), "assess": _("评定"),
    "bind_manager": _("绑定企业账号"), "cancel": _("取消"), "change": _("修改"), "change_password": _("修改密码"),
    "create": _("新增"), "deactivate": _("停用"), "dynamic_factors": _("更新动态因子"), "enqueue": _("提交"),
    "enqueue_repeat": _("重复提交"), "escalate": _("超期升级"), "export": _("导出"), "export_notice": _("导出通知书"), "failed": _("失败"), "fix_on_spot": _("当场整改"),
    "grant_role": _("授予角色"), "import": _("导入"), "import_chunk": _("分批写入"), "import_confirm": _("确认导入"),
    "import_create": _("导入新增"), "import_update": _("导入更新"), "import_upload": _("上传导入文件"),
    "login": _("登录"), "logout": _("退出"), "move": _("调整隶属"), "pending": _("待重发"),
    "publish_ruleset": _("发布规则"), "read": _("标记已读"), "read_all": _("全部已读"), "reclaim": _("回收"),
    "recompute": _("重算"), "report": _("上报"), "report_repeat": _("重复上报"), "reset_password": _("重置密码"),
    "retry": _("重试"), "revoke": _("撤销"), "revoke_role": _("撤销角色"), "save": _("保存"), "seed": _("生成压测数据"),
    "send_back": _("退回"), "sent": _("已发送"), "set_host": _("设置所在厂房/园区"), "start": _("开始执行"),
    "submit_rectification": _("提交整改"), "succeeded": _("完成"), "tenant_added": _("新增入驻企业"),
    "tenant_removed": _("移除入驻企业"), "unbind_manager": _("解除企业账号"), "update": _("修改"),
    "verify": _("验收销号"), "fill_sector": _("补填行业领域"),
    # retention and the working-day calendar
    "purge": _("保留期清理"), "calendar_load": _("载入工作日历"), "calendar_replace": _("更新工作日历"),
    # checklists
    "module_create": _("新建模块"), "module_update": _("修改模块"), "module_archive": _("归档模块"),
    "revision_start": _("开始修订"), "revision_resume": _("继续修订"), "version_publish": _("发布版本"),
    "version_supersede": _("版本被替代"), "draft_discard": _("放弃草稿"), "section_add": _("新增分节"),
    "section_update": _("修改分节"), "section_move": _("调整分节顺序"), "section_remove": _("删除分节"),
    "item_add": _("新增检查项"), "item_update": _("修改检查项"), "item_move": _("调整检查项顺序"),
    "item_remove": _("删除检查项"), "seed_load": _("载入初始清单"),
    # inspections and campaigns
    "start_repeat": _("重复提交检查"), "result": _("填写检查结果"), "pass_remaining": _("其余项全部符合"),
    "confirm_hazard": _("登记隐患"), "hazard_repeat": _("重复登记隐患"), "complete": _("完成检查"),
    "close": _("结束"), "assign": _("分配任务"), "revoke_assignment": _("撤销任务"),
    # listed supervision
    "list": _("挂牌督办"), "publish_notice": _("公布督办通知"), "file_plan": _("报送整改方案"),
    "shutdown": _("停产状态变更"), "request_extension": _("申请延期"), "extension_request": _("申请延期"),
    "decide_extension": _("延期审批"), "extension_decide": _("延期审批"), "request_acceptance": _("申请验收"),
    "acceptance": _("验收"), "delist": _("摘牌销号"), "publish_delisting": _("公布摘牌销号"),
    "set_public": _("公开信息设置"), "remind": _("期限提醒"),
    # figures
    "refresh": _("刷新"),
}


def action_label(action: str) -> str:
    obj, _sep, verb = (action or "").partition(".")
    if not verb:
        return action
    return f"{OBJECTS.get(obj, obj)}:{VERBS.get(verb, verb)}"
