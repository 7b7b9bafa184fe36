"""The same steps as a Microsoft Graph PowerShell script, written from the declaration (so the two cannot drift)."""

from entra_setup import declaration


def quoted(value: str) -> str:
    """A PowerShell single-quoted string."""
    return "'" + value.replace("'", "''") + "'"


def script(guide_permissions: bool = False) -> str:
    """The .ps1 text: Connect-MgGraph, then every step of declaration.STEPS in order, printing the three values."""
    steps = dict(declaration.STEPS)
    return _connect(guide_permissions) + _register(steps) + _credential(steps)


def _connect(guide_permissions: bool) -> str:
    """Parameters, the Graph module, sign-in, and the ids of Graph's application permissions."""
    permissions = ", ".join(quoted(p) for p in declaration.permissions(guide_permissions))
    return f"""# Entra Team Sync: register the Enterprise App (the user guide's steps 1-5) with Microsoft Graph PowerShell.
# Run it in PowerShell 7 as a Global Administrator or Privileged Role Administrator; run it again with the same
# name to add a new client secret. Written from the same declaration as `python -m entra_setup`.
param(
    [string]$Name = {quoted(declaration.DEFAULT_APP_NAME)},
    [ValidateRange(1, {declaration.SECRET_MONTHS_MAX})][int]$SecretMonths = {declaration.SECRET_MONTHS},
    [string]$CertificateFile = ''
)
$ErrorActionPreference = 'Stop'
if (-not (Get-Module -ListAvailable -Name Microsoft.Graph.Applications)) {{
    Install-Module Microsoft.Graph.Applications -Scope CurrentUser -Force
}}
Connect-MgGraph -Scopes {", ".join(quoted(s) for s in declaration.ADMIN_SCOPES)} -NoWelcome
$TenantId = (Get-MgContext).TenantId
$Permissions = @({permissions})
$Graph = Get-MgServicePrincipal -Filter "appId eq '{declaration.GRAPH_APP_ID}'"
$RoleIds = @{{}}
foreach ($Role in $Graph.AppRoles) {{ $RoleIds[$Role.Value] = $Role.Id }}

"""


def _register(steps: dict[str, str]) -> str:
    """The application, its service principal, its permissions, its scope and its own client."""
    scope = declaration.SCOPE
    return f"""# {steps["application"]}
$App = Get-MgApplication -Filter "displayName eq '$($Name -replace "'", "''")'"
if (-not $App) {{
    $Access = @($Permissions | ForEach-Object {{ @{{ Id = $RoleIds[$_]; Type = 'Role' }} }})
    $App = New-MgApplication -DisplayName $Name -SignInAudience 'AzureADMyOrg' `
        -RequiredResourceAccess @(@{{ ResourceAppId = '{declaration.GRAPH_APP_ID}'; ResourceAccess = $Access }})
}}

# {steps["service_principal"]}
$Principal = Get-MgServicePrincipal -Filter "appId eq '$($App.AppId)'"
if (-not $Principal) {{ $Principal = New-MgServicePrincipal -AppId $App.AppId }}

# {steps["permissions"]}
$Held = @(Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $Principal.Id | ForEach-Object {{ $_.AppRoleId }})
foreach ($Permission in $Permissions) {{
    if ($Held -notcontains $RoleIds[$Permission]) {{
        New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $Principal.Id -PrincipalId $Principal.Id `
            -ResourceId $Graph.Id -AppRoleId $RoleIds[$Permission] | Out-Null
    }}
}}

# {steps["scope"]}
$App = Get-MgApplication -ApplicationId $App.Id
$Scope = $App.Api.Oauth2PermissionScopes | Where-Object {{ $_.Value -eq {quoted(scope["value"])} }}
if (-not $Scope) {{
    $Scope = @{{ Id = [guid]::NewGuid().ToString(); Value = {quoted(scope["value"])}; Type = 'Admin'; IsEnabled = $true
               AdminConsentDisplayName = {quoted(scope["adminConsentDisplayName"])}
               AdminConsentDescription = {quoted(scope["adminConsentDescription"])} }}
    $Uris = if ($App.IdentifierUris) {{ $App.IdentifierUris }} else {{ @("api://$($App.AppId)") }}
    Update-MgApplication -ApplicationId $App.Id -IdentifierUris $Uris `
        -Api @{{ Oauth2PermissionScopes = @($App.Api.Oauth2PermissionScopes) + $Scope }}
}}

# {steps["client"]}
Update-MgApplication -ApplicationId $App.Id -Api @{{ PreAuthorizedApplications = @(
    @{{ AppId = $App.AppId; DelegatedPermissionIds = @($Scope.Id) }}) }}

"""


def _credential(steps: dict[str, str]) -> str:
    """A certificate or a new client secret, then the three values the page asks for."""
    return f"""# {steps["credential"]}
if ($CertificateFile) {{
    $Certificate = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2($CertificateFile)
    $Keys = @(Get-MgApplication -ApplicationId $App.Id -Property keyCredentials).KeyCredentials
    Update-MgApplication -ApplicationId $App.Id -KeyCredentials (@($Keys) + @{{ Type = 'AsymmetricX509Cert'
        Usage = 'Verify'; Key = $Certificate.RawData; DisplayName = {quoted(declaration.CREDENTIAL_NAME)} }})
    $Credential = "Certificate:    $($Certificate.Thumbprint), expires $($Certificate.NotAfter.ToString('yyyy-MM-dd'))"
}} else {{
    $Secret = Add-MgApplicationPassword -ApplicationId $App.Id -PasswordCredential @{{
        DisplayName = {quoted(declaration.CREDENTIAL_NAME)}; EndDateTime = (Get-Date).AddMonths($SecretMonths) }}
    $Credential = "Client Secret:  $($Secret.SecretText)`n  Secret expires: $($Secret.EndDateTime.ToString('yyyy-MM-dd'))"
}}

Write-Host "`nDone. On the Azure Entra Sync page, under Create Your Own Enterprise App, enter:" -ForegroundColor Green
Write-Host "  Tenant ID:      $TenantId" -ForegroundColor Green
Write-Host "  Client ID:      $($App.AppId)" -ForegroundColor Green
Write-Host "  $Credential" -ForegroundColor Green
"""
