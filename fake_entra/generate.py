"""Deterministic generation of large tenants from a seed and sizes."""

from __future__ import annotations

import random
import time
import uuid

from fake_entra.directory import App, Directory, Secret, Tenant, make_group, make_user

FIRST_NAMES = (
    "Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Kara",
    "Liam", "Maya", "Noah", "Olivia", "Peter", "Quinn", "Ruby", "Sam", "Tara", "Umar", "Vera",
    "Will", "Xenia", "Yusuf", "Zoe", "Amir", "Bella", "Carlos", "Dina", "Erik", "Fatima",
)
LAST_NAMES = (
    "Adams", "Brown", "Clark", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Khan", "Lopez", "Martin", "Nakamura", "Okafor", "Patel", "Quist", "Rossi", "Smith", "Tanaka",
    "Usman", "Varga", "Weber", "Xu", "Young", "Zimmer", "Novak", "Silva", "Moreau", "Berg",
)
DEPARTMENTS = ("Sales", "Engineering", "Marketing", "Finance", "Support", "Operations", "Legal", "People")
JOB_TITLES = ("Analyst", "Engineer", "Manager", "Consultant", "Specialist", "Coordinator", "Director")
GROUP_KINDS = ("Team", "Project", "Guild", "Squad", "Committee", "Club")
GENERATED_PASSWORD = "Generated-Passw0rd!"
DAY = 86400.0


def seeded_uuid(rng: random.Random) -> str:
    """A random-looking GUID that only depends on the generator's state."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def seeded_secret(rng: random.Random) -> str:
    """A secret value shaped like Microsoft's (40 characters with a '~')."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."
    body = "".join(rng.choice(alphabet) for _ in range(37))
    return body[:3] + "8Q~" + body[3:34]


def generate_tenant(directory: Directory, seed: int = 1, users: int = 1000, groups: int = 50,
                    big_group_size: int | None = None, name: str | None = None,
                    domain: str | None = None, portal_client_id: str | None = None) -> dict:
    """Build a tenant with a big nested group and an enterprise app; return its ids and credentials."""
    rng = random.Random(seed)
    tenant_id = seeded_uuid(rng)
    label = name or f"Generated {seed}"
    slug = "".join(ch for ch in label.lower() if ch.isalnum()) or "generated"
    tenant = directory.add_tenant(Tenant(tenant_id, domain or f"{slug}.onmicrosoft.com", label))
    user_ids = [add_generated_user(tenant, rng, index) for index in range(max(users, 1))]
    admin_id = user_ids[0]
    tenant.update_user(admin_id, {"accountEnabled": True, "userType": "Member", "admin": True})
    big_size = min(big_group_size if big_group_size is not None else len(user_ids), len(user_ids))
    big_group, nested = add_big_group(tenant, rng, user_ids[:big_size], max(groups, 1))
    group_ids = [big_group] + nested
    for index in range(max(groups, 1) - len(group_ids)):
        group_ids.append(add_small_group(tenant, rng, user_ids, group_ids, index))
    app = add_enterprise_app(directory, tenant, rng)
    if portal_client_id and portal_client_id in directory.apps:
        tenant.consent_for(portal_client_id).delegated |= directory.apps[portal_client_id].delegated_permissions
    admin = tenant.users[admin_id]
    return {
        "tenant_id": tenant.id, "domain": tenant.domain, "name": tenant.display_name,
        "big_group_id": big_group, "nested_group_ids": nested, "group_ids": group_ids,
        "user_count": len(tenant.users), "big_group_user_count": big_size,
        "admin": {"id": admin_id, "user_principal_name": admin["userPrincipalName"],
                  "password": GENERATED_PASSWORD},
        "user_password": GENERATED_PASSWORD,
        "app": app,
    }


def add_generated_user(tenant: Tenant, rng: random.Random, index: int) -> str:
    """One generated user; a few are guests, disabled or without mail."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    handle = f"{first}.{last}{index}".lower()
    props = {"department": rng.choice(DEPARTMENTS), "jobTitle": rng.choice(JOB_TITLES)}
    upn = f"{handle}@{tenant.domain}"
    if index % 40 == 39:
        upn = f"{handle}_partner.example#EXT#@{tenant.domain}"
        props.update(userType="Guest", mail=f"{handle}@partner.example", department=None)
    elif index % 60 == 59:
        props["mail"] = None
    if index % 50 == 49:
        props["accountEnabled"] = False
    user = make_user(seeded_uuid(rng), f"{first} {last}", upn, **props)
    tenant.add_user(user, GENERATED_PASSWORD)
    return user["id"]


def add_big_group(tenant: Tenant, rng: random.Random, user_ids: list[str], groups: int) -> tuple[str, list[str]]:
    """'All Staff' holding most users directly and the rest through nested department groups."""
    big = tenant.add_group(make_group(seeded_uuid(rng), "All Staff", description="Everyone in the organisation"))["id"]
    nested_count = min(len(DEPARTMENTS), groups - 1)
    direct = len(user_ids) - len(user_ids) // 10 if nested_count else len(user_ids)
    members = tenant.members[big]
    for user_id in user_ids[:direct]:
        members[user_id] = "#microsoft.graph.user"
    nested = []
    for position in range(nested_count):
        group_id = tenant.add_group(make_group(seeded_uuid(rng), f"{DEPARTMENTS[position]} Department"))["id"]
        for user_id in user_ids[direct + position::nested_count]:
            tenant.members[group_id][user_id] = "#microsoft.graph.user"
        members[group_id] = "#microsoft.graph.group"
        nested.append(group_id)
    return big, nested


def add_small_group(tenant: Tenant, rng: random.Random, user_ids: list[str], group_ids: list[str], index: int) -> str:
    """A small group of random users; some nest an earlier group (never a cycle)."""
    label = f"{rng.choice(DEPARTMENTS)} {rng.choice(GROUP_KINDS)} {index + 1}"
    group_id = tenant.add_group(make_group(seeded_uuid(rng), label))["id"]
    members = tenant.members[group_id]
    for user_id in rng.sample(user_ids, min(len(user_ids), rng.randint(0, 40))):
        members[user_id] = "#microsoft.graph.user"
    if index % 10 == 9 and len(group_ids) > 1:
        members[rng.choice(group_ids[1:])] = "#microsoft.graph.group"
    return group_id


def add_enterprise_app(directory: Directory, tenant: Tenant, rng: random.Random) -> dict:
    """A single-tenant app with a valid and an expired secret and read permissions granted."""
    valid = Secret(seeded_uuid(rng), seeded_secret(rng), time.time() + 365 * DAY)
    expired = Secret(seeded_uuid(rng), seeded_secret(rng), time.time() - 30 * DAY)
    roles = {"User.Read.All", "Group.Read.All", "GroupMember.Read.All"}
    app = directory.add_app(App(seeded_uuid(rng), "Team Sync Enterprise App", tenant.id,
                                secrets=[valid, expired], application_permissions=set(roles)))
    tenant.consent_for(app.client_id).application |= roles
    return {"client_id": app.client_id, "client_secret": valid.value, "secret_id": valid.secret_id,
            "expired_client_secret": expired.value}
