"""Microsoft's own Python clients (MSAL, msgraph-sdk with azure-identity) against fake_entra over HTTPS."""

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor

import httpx
import msal
import pytest
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.groups.item.transitive_members.graph_user.graph_user_request_builder import (
    GraphUserRequestBuilder,
)
from msgraph.generated.users.delta.delta_request_builder import DeltaRequestBuilder
from msgraph_core import GraphClientFactory

from fake_entra import demo

from .certificates import make_app_certificate
from .oauth import REDIRECT_URI, query_of

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
DELEGATED = ["https://graph.microsoft.com/GroupMember.Read.All", "https://graph.microsoft.com/User.Read.All"]
SECONDS = 30


@pytest.fixture
def trusted(fake_entra_tls, monkeypatch):
    """The HTTPS emulator, its CA trusted the way a developer would: REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake_entra_tls.ca_file)
    return fake_entra_tls


def msal_app(server, client_id, credential, tenant, instance_discovery=False):
    # MSAL's token cache asks login.microsoftonline.com itself for host aliases unless instance_discovery is False.
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=f"{server.authority_url}/{tenant}",
        instance_discovery=instance_discovery, verify=server.ca_file, timeout=SECONDS)


def test_msal_client_credentials_with_a_secret_and_with_a_certificate(trusted):
    by_secret = msal_app(trusted, demo.ENTERPRISE_APP_CLIENT_ID, demo.ENTERPRISE_APP_SECRET, demo.TENANT_DOMAIN)
    result = by_secret.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["token_source"] == "identity_provider"
    assert by_secret.acquire_token_for_client(scopes=GRAPH_DEFAULT)["token_source"] == "cache"
    certificate = make_app_certificate()
    trusted.control.add_certificate(demo.ENTERPRISE_APP_CLIENT_ID, certificate.certificate_pem)
    by_certificate = msal_app(trusted, demo.ENTERPRISE_APP_CLIENT_ID, {
        "private_key": certificate.key_pem, "thumbprint": certificate.thumbprint}, demo.TENANT_ID)
    result = by_certificate.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert "access_token" in result, result
    wrong = msal_app(trusted, demo.ENTERPRISE_APP_CLIENT_ID, "not-the-secret", demo.TENANT_ID)
    refused = wrong.acquire_token_for_client(scopes=GRAPH_DEFAULT)
    assert refused["error"] == "invalid_client" and refused["error_codes"] == [7000215]


def test_msal_authorization_code_with_pkce_then_refresh(trusted):
    app = msal_app(trusted, demo.PORTAL_CLIENT_ID, demo.PORTAL_CLIENT_SECRET, "organizations",
                   instance_discovery=f"{trusted.authority_url}/common/discovery/instance")
    assert trusted.control.counts()["GET /instance-discovery"] == 1
    flow = app.initiate_auth_code_flow(DELEGATED, redirect_uri=REDIRECT_URI)
    assert flow["code_verifier"] and "code_challenge=" in flow["auth_uri"]
    redirected = trusted.sign_in(flow["auth_uri"], demo.ADMIN_EMAIL)
    result = app.acquire_token_by_auth_code_flow(flow, query_of(redirected))
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == demo.ADMIN_EMAIL
    assert result["id_token_claims"]["tid"] == demo.TENANT_ID
    (account,) = app.get_accounts()
    assert account["username"] == demo.ADMIN_EMAIL
    assert account["home_account_id"] == f"{demo.user_id('Megan Bowen')}.{demo.TENANT_ID}"
    refreshed = app.acquire_token_silent(DELEGATED, account=account, force_refresh=True)
    assert refreshed and refreshed["token_source"] == "identity_provider"
    assert refreshed["access_token"] != result["access_token"]
    again = app.acquire_token_by_refresh_token(result["refresh_token"], DELEGATED)
    assert again["error"] == "invalid_grant"


def graph_client(server):
    """A GraphServiceClient on fake_entra: azure-identity for tokens, httpx trusting the emulator's CA."""
    credential = ClientSecretCredential(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID, demo.ENTERPRISE_APP_SECRET,
                                        authority=server.authority_url, disable_instance_discovery=True,
                                        connection_verify=server.ca_file)
    auth = AzureIdentityAuthenticationProvider(credential, scopes=GRAPH_DEFAULT, allowed_hosts=["127.0.0.1"])
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=server.ca_file), timeout=SECONDS))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = server.graph_url
    return GraphServiceClient(request_adapter=adapter)


def eventual(query):
    config = RequestConfiguration(query_parameters=query)
    config.headers.add("ConsistencyLevel", "eventual")
    return config


def run(coroutine):
    """Run on a thread of its own: the browser tests' Playwright keeps an event loop in this process's main thread."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(coroutine, SECONDS)).result()


def test_msgraph_sdk_reads_groups_and_their_users(trusted):
    client = graph_client(trusted)

    async def scenario():
        first = await client.groups.get(RequestConfiguration(
            query_parameters=GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(top=2,
                                                                                        select=["id", "displayName"])))
        names, page = [g.display_name for g in first.value], first
        while page.odata_next_link:
            page = await client.groups.with_url(page.odata_next_link).get()
            names.extend(g.display_name for g in page.value)
        found = await client.groups.get(eventual(GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
            search='"displayName:sales"', count=True, orderby=["displayName"])))
        one = await client.groups.by_group_id(demo.group_id("Engineering")).get()
        members = client.groups.by_group_id(demo.group_id("Engineering")).transitive_members
        users = await members.graph_user.get(eventual(GraphUserRequestBuilder.GraphUserRequestBuilderGetQueryParameters(
            count=True, select=["id", "displayName"], top=5)))
        everyone = [u.display_name for u in users.value]
        while users.odata_next_link:
            users = await members.graph_user.with_url(users.odata_next_link).get(eventual(None))
            everyone.extend(u.display_name for u in users.value)
        counted = await members.graph_user.count.get(eventual(None))
        return names, found, one, everyone, counted

    names, found, one, everyone, counted = run(scenario())
    assert names == list(demo.GROUP_NAMES)
    assert [g.display_name for g in found.value] == ["Sales", "Sales Leadership"] and found.odata_count == 2
    assert one.id == demo.group_id("Engineering") and one.display_name == "Engineering"
    assert sorted(everyone) == sorted(demo.DEPARTMENT_STAFF["Engineering"])
    assert counted == len(everyone)
    counts = trusted.control.counts()
    assert counts["GET /groups/{id}/transitiveMembers/microsoft.graph.user"] == 3
    assert counts["GET /groups/{id}/transitiveMembers/microsoft.graph.user/$count"] == 1


def test_msgraph_sdk_follows_users_delta_to_its_delta_link(trusted):
    client = graph_client(trusted)

    async def scenario():
        page = await client.users.delta.get(RequestConfiguration(
            query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(select=["id", "displayName"])))
        seen = [u.id for u in page.value]
        while page.odata_next_link:
            page = await client.users.delta.with_url(page.odata_next_link).get()
            seen.extend(u.id for u in page.value)
        trusted.control.update_user(demo.TENANT_ID, demo.user_id("Lee Gu"), displayName="Lee Gu-Renamed")
        changes = await client.users.delta.with_url(page.odata_delta_link).get()
        return seen, page.odata_delta_link, changes

    seen, delta_link, changes = run(scenario())
    assert demo.user_id("Megan Bowen") in seen and delta_link
    assert [(u.id, u.display_name) for u in changes.value] == [(demo.user_id("Lee Gu"), "Lee Gu-Renamed")]
    assert changes.odata_delta_link
