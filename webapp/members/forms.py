"""Validation of the member edit form."""
import re
from collections.abc import Mapping

from webapp.models import User

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIELDS = {"name": 200, "email": 320, "job_title": 200, "department": 200}


def validate_member(form: Mapping[str, str], member: User) -> tuple[dict[str, str], dict[str, str]]:
    """Return (values, errors) for an edit of `member`; errors map field → message."""
    values = {field: form.get(field, "").strip() for field in FIELDS}
    values["email"] = values["email"].lower()
    errors: dict[str, str] = {}
    for field, limit in FIELDS.items():
        if len(values[field]) > limit:
            errors[field] = f"At most {limit} characters."
    if not values["name"]:
        errors["name"] = "A name is required."
    if not EMAIL.match(values["email"]):
        errors["email"] = "This is not a valid email address."
    elif User.select().where((User.email == values["email"]) & (User.id != member.id)).exists():
        errors["email"] = "Another user already has this email address."
    return values, errors
