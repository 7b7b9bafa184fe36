"""Registers the Enterprise App the portal needs in a Microsoft Entra tenant (the user guide's steps 1-5).

`python -m entra_setup` does it through Microsoft Graph after a device-code sign-in; `powershell.py` writes the
same steps as a Microsoft Graph PowerShell script. Both read `declaration.py`, so they cannot drift apart.
Only the standard library is used: the command runs wherever Python 3.11+ does."""
