"""What a save of the sync settings changed, in the words of the Azure Entra Sync page."""
import json
from typing import Any

from webapp.models import SyncSettings


def _selection(selected_user_ids: str | None) -> str:
    return f"{len(json.loads(selected_user_ids))} selected" if selected_user_ids else "All Users"


def settings_change(before: SyncSettings, after: dict[str, Any]) -> str:
    """The changed settings, e.g. "Auto Sync on; Allow Deletion off"; empty when nothing changed."""
    changes = []
    if (before.group_id or None) != after["group_id"]:
        changes.append(f"Sync Group: {after['group_name'] or 'none'} (was {before.group_name or 'none'})")
    if _selection(before.selected_user_ids) != _selection(after["selected_user_ids"]):
        changes.append(f"Sync Users: {_selection(after['selected_user_ids'])}")
    for field, label in (("auto_sync", "Auto Sync"), ("allow_deletion", "Allow Deletion")):
        if bool(getattr(before, field)) != bool(after[field]):
            changes.append(f"{label} {'on' if after[field] else 'off'}")
    if bool(before.include_guests) != bool(after["include_guests"]):
        changes.append(f"Guests {'included' if after['include_guests'] else 'left out'}")
    return "; ".join(changes)
