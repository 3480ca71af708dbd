"""Catalogue texts (zh/en): The users page (admins)."""

from __future__ import annotations

CATALOG: dict[str, dict[str, str]] = {
    "users.title": {"zh": "用户管理", "en": "Users"},
    "users.add": {"zh": "新增用户", "en": "Add a user"},
    "users.display_name": {"zh": "显示名称", "en": "Display name"},
    "users.role": {"zh": "角色", "en": "Role"},
    "users.grids": {"zh": "负责网格（网格管理员）", "en": "Assigned grids (grid admins)"},
    "users.created": {"zh": "已创建用户 {name}", "en": "Created user {name}"},
    "users.active": {"zh": "启用", "en": "Active"},
    "users.toggle": {"zh": "停用/启用所选用户", "en": "Disable / enable the chosen user"},
    "users.pick": {"zh": "选择用户", "en": "User"},
    "users.changed": {"zh": "已更新 {name}", "en": "Updated {name}"},
}
