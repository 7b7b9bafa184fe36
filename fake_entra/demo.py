"""The demo data set: fixed ids and credentials used by the portal's demo mode, README and tests."""

from __future__ import annotations

import time
import uuid

from fake_entra.directory import App, Directory, Secret, Tenant, make_group, make_user

TENANT_ID = "7c3e5a1d-2b4f-4e8a-9d6c-1f0b3a5c7e9d"
TENANT_DOMAIN = "contoso-learning.onmicrosoft.com"
TENANT_NAME = "Contoso Learning"
FABRIKAM_TENANT_ID = "2a8f6d4b-9c1e-4b7a-8e3d-5f2c7a9b1d4e"
FABRIKAM_DOMAIN = "fabrikam-training.onmicrosoft.com"
FABRIKAM_NAME = "Fabrikam Training"

# Every demo user, in both tenants, signs in with this password.
USER_PASSWORD = "Demo-Passw0rd!"
ADMIN_EMAIL = f"megan.bowen@{TENANT_DOMAIN}"
MEMBER_EMAIL = f"alex.wilber@{TENANT_DOMAIN}"
GUEST_EMAIL = "jane.doe@partner.example"
DISABLED_EMAIL = f"diego.siciliani@{TENANT_DOMAIN}"
NO_MAIL_UPN = f"lynne.robbins@{TENANT_DOMAIN}"
FABRIKAM_ADMIN_EMAIL = f"ingrid.hansen@{FABRIKAM_DOMAIN}"
FABRIKAM_MEMBER_EMAIL = f"oscar.lind@{FABRIKAM_DOMAIN}"

PORTAL_CLIENT_ID = "5f3e2d1c-0b9a-4876-a5d4-c3b2a1f0e9d8"
PORTAL_CLIENT_SECRET = "pTl8Q~Demo.Portal-Secret_NotForProduction1"
PORTAL_REDIRECT_URIS = ("http://localhost/entra/oauth/callback", "http://127.0.0.1/entra/oauth/callback")
PORTAL_SCOPES = ("openid", "profile", "email", "offline_access", "GroupMember.Read.All", "User.Read.All")

ENTERPRISE_APP_CLIENT_ID = "9b2d4f6a-8c1e-4a3b-b5d7-e9f1a3c5b7d9"
ENTERPRISE_APP_SECRET = "eNt8Q~Demo.Enterprise-App_Secret-Value42"
ENTERPRISE_APP_SECRET_ID = "0e4c8a2f-6b1d-4f9e-a3c7-d5b9f1e3a7c2"
ENTERPRISE_APP_EXPIRED_SECRET = "oLd8Q~Demo.Expired-Enterprise_Secret-0001"
ENTERPRISE_APP_EXPIRED_SECRET_ID = "3a7e1c5b-9d2f-4b6a-8e4c-0f2d6b8a4c1e"
ENTERPRISE_APP_PERMISSIONS = ("User.Read.All", "Group.Read.All", "GroupMember.Read.All")

# Microsoft's own public client for Graph from a terminal (Microsoft Graph PowerShell uses it too): multi-tenant,
# no credential, any delegated Graph permission an administrator consents to.
GRAPH_COMMAND_LINE_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"

GROUP_NAMES = ("All Staff", "Training", "New Starters", "Sales", "Sales Leadership", "Engineering",
               "Platform Team", "Marketing", "Mentoring Circle", "Empty Group")
# The Microsoft 365 groups (groupTypes "Unified"): they hold users only and sit in no other group.
MICROSOFT_365_GROUPS = ("Mentoring Circle",)

DEPARTMENT_STAFF = {
    "Sales": ("Alex Wilber", "Adele Vance", "Grady Archie", "Henrietta Mueller", "Isaiah Langer",
              "Joni Sherman", "Lee Gu", "Lidia Holloway", "Nestor Wilke", "Patti Fernandez"),
    "Engineering": ("Johanna Lorenz", "Miriam Graham", "Pradeep Gupta", "Raul Razo", "Sofia Costa",
                    "Tomas Novak", "Uma Raman", "Victor Chen", "Wen Li", "Yara Haddad", "Zane Porter",
                    "Kenji Sato"),
    "Marketing": ("Allan Deyoung", "Bianca Pisani", "Cameron White", "Debra Berger", "Enrico Cattaneo",
                  "Fiona Walsh", "Gareth Jones"),
    "Finance": ("Hannah Schmidt", "Ivan Petrov", "Julia Santos", "Karim Haddad", "Laura Rossi"),
    "People": ("Mona Kowalski", "Nadia Rahman", "Omar Farouk", "Paula Meyer"),
    "Support": ("Quentin Blake", "Rita Moreno", "Samuel Okoro", "Tessa Lund", "Ursula Kemp",
                "Vikram Singh", "Wanda Nowak", "Xavier Ruiz", "Yusuf Demir", "Zoe Clarke"),
}
FABRIKAM_STAFF = ("Ingrid Hansen", "Oscar Lind", "Petra Solberg", "Rasmus Dahl", "Sigrid Berg",
                  "Torvald Aas", "Ulla Strand", "Viggo Holm")


def object_id(tenant: str, kind: str, name: str) -> str:
    """A stable GUID for a demo object, so ids survive restarts."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-entra-demo/{tenant}/{kind}/{name}"))


def user_id(name: str, tenant: str = TENANT_ID) -> str:
    """The object id of a demo user by display name."""
    return object_id(tenant, "user", name)


def group_id(name: str, tenant: str = TENANT_ID) -> str:
    """The object id of a demo group by display name."""
    return object_id(tenant, "group", name)


def handle(name: str) -> str:
    """'Megan Bowen' -> 'megan.bowen'."""
    return name.lower().replace(" ", ".")


def build_demo(directory: Directory) -> None:
    """Fill an empty directory with the demo tenants, apps and consent."""
    contoso = directory.add_tenant(Tenant(TENANT_ID, TENANT_DOMAIN, TENANT_NAME))
    add_contoso_people(contoso)
    add_contoso_groups(contoso)
    fabrikam = directory.add_tenant(Tenant(FABRIKAM_TENANT_ID, FABRIKAM_DOMAIN, FABRIKAM_NAME))
    for name in FABRIKAM_STAFF:
        fabrikam.add_user(make_user(user_id(name, FABRIKAM_TENANT_ID), name, f"{handle(name)}@{FABRIKAM_DOMAIN}",
                                    department="Training", jobTitle="Trainer"),
                          USER_PASSWORD, admin=name == "Ingrid Hansen")
    team = fabrikam.add_group(make_group(group_id("Fabrikam Trainers", FABRIKAM_TENANT_ID), "Fabrikam Trainers"))
    for name in FABRIKAM_STAFF:
        fabrikam.add_member(team["id"], user_id(name, FABRIKAM_TENANT_ID))
    add_demo_apps(directory)


def add_contoso_people(tenant: Tenant) -> None:
    """About sixty readable users: an admin, staff, guests, disabled accounts and users without mail."""
    tenant.add_user(make_user(user_id("Megan Bowen"), "Megan Bowen", ADMIN_EMAIL,
                              jobTitle="IT Administrator", department="IT"), USER_PASSWORD, admin=True)
    for department, names in DEPARTMENT_STAFF.items():
        for name in names:
            tenant.add_user(make_user(user_id(name), name, f"{handle(name)}@{TENANT_DOMAIN}",
                                      department=department, jobTitle=f"{department} Specialist",
                                      officeLocation="Building 1"), USER_PASSWORD)
    for name, mail in (("Jane Doe", GUEST_EMAIL), ("Kofi Mensah", "kofi.mensah@partner.example"),
                       ("Lena Vogel", "lena.vogel@external.example")):
        upn = f"{mail.replace('@', '_')}#EXT#@{TENANT_DOMAIN}"
        tenant.add_user(make_user(user_id(name), name, upn, mail=mail, userType="Guest"), USER_PASSWORD)
    for name in ("Diego Siciliani", "Irvin Sayers"):
        tenant.add_user(make_user(user_id(name), name, f"{handle(name)}@{TENANT_DOMAIN}",
                                  accountEnabled=False, department="Sales"), USER_PASSWORD)
    for name in ("Lynne Robbins", "Christie Cline"):
        tenant.add_user(make_user(user_id(name), name, f"{handle(name)}@{TENANT_DOMAIN}", mail=None,
                                  department="Support"), USER_PASSWORD)
    tenant.add_other({"@odata.type": "#microsoft.graph.orgContact",
                      "id": object_id(TENANT_ID, "contact", "Northwind Buyer"), "displayName": "Northwind Buyer",
                      "mail": "buyer@northwind.example"})
    tenant.add_other({"@odata.type": "#microsoft.graph.device", "id": object_id(TENANT_ID, "device", "Lab Kiosk 01"),
                      "displayName": "Lab Kiosk 01"})
    tenant.add_other({"@odata.type": "#microsoft.graph.servicePrincipal",
                      "id": object_id(TENANT_ID, "servicePrincipal", "Build Agent"), "displayName": "Build Agent",
                      "appId": object_id(TENANT_ID, "app", "Build Agent")})


def add_contoso_groups(tenant: Tenant) -> None:
    """Security groups with nesting (Engineering holds Platform Team, Training holds New Starters and guests) and a
    Microsoft 365 group of users only (Mentoring Circle)."""
    for name in GROUP_NAMES:
        unified = name in MICROSOFT_365_GROUPS
        tenant.add_group(make_group(group_id(name), name, description=f"{name} at {TENANT_NAME}",
                                    mail=f"{handle(name).replace('.', '')}@{TENANT_DOMAIN}", mailEnabled=True,
                                    groupTypes=["Unified"] if unified else [], securityEnabled=not unified,
                                    visibility="Private" if unified else None))
    staff = [u for u in tenant.users.values() if u["userType"] == "Member" and u["accountEnabled"]]
    for user in staff:
        tenant.add_member(group_id("All Staff"), user["id"])
    members = {
        "Training": DEPARTMENT_STAFF["Support"] + DEPARTMENT_STAFF["People"]
        + ("Jane Doe", "Kofi Mensah", "Diego Siciliani", "Lynne Robbins", "Megan Bowen"),
        "New Starters": ("Zoe Clarke", "Yusuf Demir", "Lena Vogel", "Irvin Sayers", "Christie Cline"),
        "Sales": DEPARTMENT_STAFF["Sales"][:8] + ("Diego Siciliani",),
        "Sales Leadership": ("Alex Wilber", "Patti Fernandez", "Nestor Wilke"),
        "Engineering": DEPARTMENT_STAFF["Engineering"][:6],
        "Platform Team": DEPARTMENT_STAFF["Engineering"][4:],
        "Marketing": DEPARTMENT_STAFF["Marketing"],
        "Mentoring Circle": ("Megan Bowen", "Adele Vance", "Miriam Graham", "Debra Berger", "Kofi Mensah",
                             "Lynne Robbins"),
    }
    for name, people in members.items():
        for person in people:
            tenant.add_member(group_id(name), user_id(person))
    tenant.add_member(group_id("Training"), group_id("New Starters"))
    tenant.add_member(group_id("Sales"), group_id("Sales Leadership"))
    tenant.add_member(group_id("Sales"), object_id(TENANT_ID, "contact", "Northwind Buyer"))
    tenant.add_member(group_id("Engineering"), group_id("Platform Team"))
    tenant.add_member(group_id("Platform Team"), object_id(TENANT_ID, "device", "Lab Kiosk 01"))
    tenant.add_member(group_id("Platform Team"), object_id(TENANT_ID, "servicePrincipal", "Build Agent"))


def add_demo_apps(directory: Directory) -> None:
    """The portal's multi-tenant app and the single-tenant enterprise app with granted roles."""
    year = 365 * 86400.0
    directory.add_app(App(PORTAL_CLIENT_ID, "Entra Team Sync Portal", TENANT_ID, multi_tenant=True,
                          redirect_uris=list(PORTAL_REDIRECT_URIS),
                          secrets=[Secret(object_id(TENANT_ID, "secret", "portal"), PORTAL_CLIENT_SECRET,
                                          time.time() + year)],
                          delegated_permissions={"GroupMember.Read.All", "User.Read.All"}))
    directory.add_app(App(ENTERPRISE_APP_CLIENT_ID, "Team Sync Enterprise App", TENANT_ID,
                          secrets=[Secret(ENTERPRISE_APP_SECRET_ID, ENTERPRISE_APP_SECRET, time.time() + year),
                                   Secret(ENTERPRISE_APP_EXPIRED_SECRET_ID, ENTERPRISE_APP_EXPIRED_SECRET,
                                          time.time() - 30 * 86400.0)],
                          application_permissions=set(ENTERPRISE_APP_PERMISSIONS)))
    directory.tenants[TENANT_ID].consent_for(ENTERPRISE_APP_CLIENT_ID).application |= set(ENTERPRISE_APP_PERMISSIONS)
    directory.add_app(App(GRAPH_COMMAND_LINE_CLIENT_ID, "Microsoft Graph Command Line Tools", TENANT_ID,
                          multi_tenant=True, public_client=True))
