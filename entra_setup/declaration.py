"""What the portal needs of an Enterprise App, declared once for the command and the PowerShell script."""

DEFAULT_APP_NAME = "Entra Team Sync"
# Microsoft Graph's id, and Microsoft's own public client for Graph from a terminal (Graph PowerShell uses it).
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
COMMAND_LINE_CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
# What the administrator lets the command do while it runs (delegated, consented at sign-in).
ADMIN_SCOPES = ("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All")

# Application permissions at least privilege: list groups and their members, read users.
PERMISSIONS = ("GroupMember.Read.All", "User.Read.All")
# The user guide also asks for these; the portal does not need them (User.Export.All grants no read at all).
GUIDE_PERMISSIONS = ("Group.Read.All", "User.Export.All")

# The guide's step 3 (Expose an API, Add a scope) and step 4 (the app pre-authorised for its own scope).
SCOPE = {
    "value": "EntraTeamSync.Read",
    "adminConsentDisplayName": "Entra Team Sync",
    "adminConsentDescription": "Allow Entra Team Sync read access",
}

SECRET_MONTHS = 12
SECRET_MONTHS_MAX = 24  # the longest Microsoft's portal offers
CREDENTIAL_NAME = "Entra Team Sync"

# The steps, in order, as both tools name them.
STEPS = (
    ("application", "Create the app registration (single tenant)"),
    ("service_principal", "Create its Enterprise Application (service principal)"),
    ("permissions", "Grant admin consent for the application permissions"),
    ("scope", "Expose an API and add the scope"),
    ("client", "Add the client application (pre-authorise the app for its scope)"),
    ("credential", "Add the credential (certificate or client secret)"),
)


def permissions(guide: bool = False) -> tuple[str, ...]:
    """The application permissions to grant; the guide's extra ones only when asked for."""
    return PERMISSIONS + (GUIDE_PERMISSIONS if guide else ())
