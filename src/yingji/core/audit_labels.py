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
    "retry": _("重试"), "sending": _("发送中"), "revoke": _("撤销"), "revoke_role": _("撤销角色"), "save": _("保存"), "seed": _("生成压测数据"),
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
    if verb not in VERBS and verb.endswith("_repeat") and verb[:-7] in VERBS:
        return f"{OBJECTS.get(obj, obj)}:{VERBS[verb[:-7]]}{_('(重复提交)')}"
    return f"{OBJECTS.get(obj, obj)}:{VERBS.get(verb, verb)}"


# Names of recorded change keys that are not a model field with a Chinese verbose_name (keys of
# side records, computed values, and fields whose verbose_name is left at Django's default).
# A model field's own verbose_name wins; this table is the fallback (see core/audit_display.py).
FIELDS = {
    "archived_at": _("归档时间"), "archived_by": _("归档人"), "parent": _("上级"), "area": _("区域"),
    "area_code": _("区域"), "sort": _("排序"), "user": _("用户"), "granted_by": _("授予人"),
    "created_at": _("创建时间"), "created_by": _("创建人"), "revoked_at": _("撤销时间"), "revoked_by": _("撤销人"),
    "prefix": _("令牌前缀"), "last_used_at": _("最近使用时间"), "username": _("用户名"), "ip": _("来源IP"),
    "at": _("时间"), "params": _("参数"), "progress_done": _("已处理"), "progress_total": _("总数"),
    "result": _("结果"), "attempts": _("尝试次数"), "max_attempts": _("最多尝试次数"), "claimed_by": _("执行进程"),
    "lease_until": _("租约到期"), "heartbeat_at": _("心跳时间"), "idempotency_key": _("幂等键"),
    "started_at": _("开始时间"), "finished_at": _("结束时间"), "kind": _("任务类型"), "status": _("状态"),
    "state": _("状态"), "site": _("监管对象"), "assignment": _("角色授权"), "ruleset": _("规则集"),
    "digest": _("摘要"), "computed_by": _("计算人"), "hazard": _("隐患"), "version": _("版本"),
    "section": _("分节"), "campaign": _("专项行动"), "inspection": _("检查"), "answered_by": _("填写人"),
    "answered_at": _("填写时间"), "listing": _("挂牌督办"), "names": _("节假日名称"), "loaded_by": _("载入人"),
    "notification": _("通知"), "api_tokens": _("API令牌"), "sessions": _("登录会话"), "roles": _("角色"),
    "calendar_estimated": _("按估算工作日历"), "password": _("密码"), "file": _("文件"), "rows": _("行数"),
    "created": _("新增"), "updated": _("更新"), "skipped": _("跳过"), "errors": _("错误"), "count": _("数量"),
    "reason": _("原因"), "note": _("说明"), "deadline": _("整改期限"), "tenants": _("入驻企业"),
    "host": _("所在厂房/园区"), "risk_colour": _("风险颜色"), "colour": _("风险颜色"), "score": _("得分"),
    "level": _("等级"), "error": _("错误信息"), "message": _("说明"), "subject_type": _("关联对象类型"),
    "subject_id": _("关联对象"), "purged": _("清理数量"), "manager": _("企业账号"), "is_active": _("启用"),
    # job results and parameters
    "filename": _("文件名"), "filename_in": _("上传文件名"), "dry_run": _("仅校验"), "mode": _("导入方式"),
    "valid": _("有效行数"), "invalid": _("错误行数"), "warnings": _("提醒"), "create": _("将新增"),
    "update": _("将更新"), "same": _("无变化"), "preview": _("预览"), "written": _("已写入"),
    "unknown_columns": _("未识别的列"), "run": _("汇总批次"), "as_of": _("数据截至"), "hazards": _("隐患"),
    "inspections": _("检查"), "steps": _("步骤"), "echo": _("回显"), "attempt": _("第几次尝试"),
    "sha256": _("文件摘要"), "size": _("文件大小"), "filters": _("筛选条件"),
}

# Words for values that are not a choice of their field.
YES, NO, EMPTY = _("是"), _("否"), "—"
