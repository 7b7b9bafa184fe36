"""Form checks done before anything is sent to Microsoft."""

import pytest

from webapp.microsoft import client_id_error, client_secret_error, enterprise_app_errors, tenant_id_error


@pytest.mark.parametrize("value", ["72f988bf-86f1-41af-91ab-2d7cd011db47", " 72F988BF-86F1-41AF-91AB-2D7CD011DB47 ",
                                   "contoso.onmicrosoft.com", "example.com", "sub.example.co.uk"])
def test_usable_tenant_ids(value):
    assert tenant_id_error(value) is None


@pytest.mark.parametrize("value, message", [
    ("", "Enter the Directory (tenant) ID."),
    ("common", "Enter your organisation's own Directory (tenant) ID, not \u201ccommon\u201d."),
    ("Organizations", "Enter your organisation's own Directory (tenant) ID, not \u201cOrganizations\u201d."),
    ("consumers", "Enter your organisation's own Directory (tenant) ID, not \u201cconsumers\u201d."),
    ("00000000-0000-0000-0000-000000000000", "Tenant not found: check the Directory (tenant) ID."),
    ("contoso", "The Tenant ID is a GUID or a domain such as contoso.onmicrosoft.com."),
    ("https://login.microsoftonline.com/contoso.com",
     "The Tenant ID is a GUID or a domain such as contoso.onmicrosoft.com."),
    ("-bad.example.com", "The Tenant ID is a GUID or a domain such as contoso.onmicrosoft.com."),
    ("72f988bf-86f1-41af-91ab", "The Tenant ID is a GUID or a domain such as contoso.onmicrosoft.com."),
])
def test_unusable_tenant_ids_get_a_plain_message(value, message):
    assert tenant_id_error(value) == message


def test_client_id_must_be_a_guid():
    assert client_id_error("4d856d1f-8648-456c-9bb2-f36273bbe4e3") is None
    assert client_id_error("") == "Enter the Application (client) ID."
    assert client_id_error("Entra Team Sync") == (
        "The Client ID is a GUID: copy the Application (client) ID from the app's Overview page.")


def test_a_secret_id_pasted_instead_of_the_value_is_caught_before_calling_microsoft():
    assert client_secret_error("Qx8Q~abcdefghijklmnopqrstuvwxyz0123456789") is None
    assert client_secret_error(" ") == "Enter the client secret."
    assert client_secret_error("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0") == (
        "The client secret is wrong. Paste the secret's Value, not its Secret ID.")


def test_enterprise_app_errors_are_keyed_by_form_field():
    assert enterprise_app_errors("common", "nope", "") == {
        "tenant_id": "Enter your organisation's own Directory (tenant) ID, not \u201ccommon\u201d.",
        "client_id": "The Client ID is a GUID: copy the Application (client) ID from the app's Overview page.",
        "client_secret": "Enter the client secret.",
    }
    assert enterprise_app_errors("contoso.onmicrosoft.com", "4d856d1f-8648-456c-9bb2-f36273bbe4e3", "s~cret") == {}
