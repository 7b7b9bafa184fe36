"""The Microsoft client over real HTTP against the fake_entra server: tokens, paging, faults, errors, delta."""

import socket
import time
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from webapp.microsoft import (AppOnlyTokenProvider, ApplicationNotInTenant, ConnectionExpired, ConsentRequired,
                              DelegatedTokenProvider, DeltaExpired, ExpiredClientSecret, GraphClient, GroupNotFound,
                              InvalidClientSecret, NetworkError, PermissionDenied, RetryPolicy, ServiceUnavailable,
                              TenantNotFound, Throttled, Transport, tenant_guid)

FAST_RETRY = RetryPolicy(max_attempts=3, max_total_wait=5.0, base_backoff=0.01, max_backoff=0.05, min_wait=0.01)
REDIRECT_URI = "http://localhost/entra/oauth/callback"
CONNECT_SCOPES = ("openid profile email offline_access https://graph.microsoft.com/GroupMember.Read.All "
                  "https://graph.microsoft.com/User.Read.All")


def app_only(fake_entra, tenant=None, client_id=None, secret=None, **kwargs):
    """The demo enterprise app's provider, any credential replaceable."""
    demo = fake_entra.demo
    kwargs.setdefault("transport", Transport(retry=FAST_RETRY))
    return AppOnlyTokenProvider(fake_entra.authority_url, tenant or demo.TENANT_ID,
                                client_id or demo.ENTERPRISE_APP_CLIENT_ID, secret or demo.ENTERPRISE_APP_SECRET,
                                **kwargs)


def graph_for(fake_entra, provider=None, **kwargs):
    return GraphClient(fake_entra.graph_url, provider or app_only(fake_entra), retry=FAST_RETRY, **kwargs)


def connect(fake_entra):
    """Sign the demo admin in through the authorization code flow; return the first refresh token."""
    demo = fake_entra.demo
    query = urlencode({"client_id": demo.PORTAL_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI,
                       "scope": CONNECT_SCOPES, "state": "state-1", "nonce": "nonce-1", "response_mode": "query"})
    landed = fake_entra.sign_in(f"{fake_entra.authority_url}/organizations/oauth2/v2.0/authorize?{query}")
    code = parse_qs(urlsplit(landed).query)["code"][0]
    tokens = requests.post(f"{fake_entra.authority_url}/organizations/oauth2/v2.0/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
        "client_id": demo.PORTAL_CLIENT_ID, "client_secret": demo.PORTAL_CLIENT_SECRET}, timeout=30).json()
    return tokens["refresh_token"]


def delegated(fake_entra, refresh_token, rotated):
    demo = fake_entra.demo
    return DelegatedTokenProvider(fake_entra.authority_url, demo.PORTAL_CLIENT_ID, demo.PORTAL_CLIENT_SECRET,
                                  refresh_token, on_rotate=rotated.append, transport=Transport(retry=FAST_RETRY))


def names(users):
    return sorted(user.display_name for user in users)


def test_group_search_uses_word_prefixes_and_lists_by_name_when_empty(fake_entra):
    graph = graph_for(fake_entra)

    found = graph.search_groups("sal")
    first = graph.search_groups("", limit=3)

    assert [group["displayName"] for group in found] == ["Sales", "Sales Leadership"]
    assert set(found[0]) == {"id", "displayName", "description", "mail", "groupTypes", "securityEnabled"}
    assert [group["displayName"] for group in first] == ["All Staff", "Empty Group", "Engineering"]
    assert graph.search_groups('"platform') == graph.search_groups("Platform")


def test_group_users_include_nested_groups_guests_disabled_and_users_without_mail(fake_entra):
    demo = fake_entra.demo
    graph = graph_for(fake_entra)

    users = {user.display_name: user for user in graph.fetch_group_users(demo.group_id("Training"))}

    expected = set(demo.DEPARTMENT_STAFF["Support"] + demo.DEPARTMENT_STAFF["People"]) | {
        "Jane Doe", "Kofi Mensah", "Diego Siciliani", "Lynne Robbins", "Megan Bowen",
        "Zoe Clarke", "Yusuf Demir", "Lena Vogel", "Irvin Sayers", "Christie Cline"}
    assert set(users) == expected
    jane, diego, lynne = users["Jane Doe"], users["Diego Siciliani"], users["Lynne Robbins"]
    assert (jane.email, jane.is_guest, jane.enabled) == (demo.GUEST_EMAIL, True, True)
    assert (diego.enabled, diego.is_guest) == (False, False)
    assert (lynne.email, lynne.enabled) == (demo.NO_MAIL_UPN, True)
    assert users["Megan Bowen"].job_title == "IT Administrator"


def test_paging_follows_every_next_link_of_a_generated_group(fake_entra):
    tenant = fake_entra.control.create_tenant(seed=11, users=2300, groups=12)
    provider = app_only(fake_entra, tenant["tenant_id"], tenant["app"]["client_id"], tenant["app"]["client_secret"])
    graph = graph_for(fake_entra, provider)

    pages = list(graph.iter_group_user_pages(tenant["big_group_id"]))

    assert [len(page) for page in pages] == [999, 999, 302]
    assert len({user["id"] for page in pages for user in page}) == 2300
    assert graph.request_count == 3
    guests = [user for page in pages for user in page if "#EXT#" in user["userPrincipalName"]]
    assert guests and all(user["userType"] == "Guest" for user in guests)


def test_all_users_of_the_tenant_are_listed(fake_entra):
    (contoso,) = [tenant for tenant in fake_entra.control.tenants() if tenant["tenant_id"] == fake_entra.demo.TENANT_ID]

    users = [user for page in graph_for(fake_entra).iter_users_pages() for user in page]

    assert len(users) == len({user["id"] for user in users}) == contoso["users"]
    assert {"accountEnabled", "userType", "department"} <= set(users[0])


def test_a_429_with_fractional_retry_after_is_waited_out(fake_entra):
    group_id = fake_entra.demo.group_id("Sales")
    graph = graph_for(fake_entra)
    fake_entra.control.inject(429, retry_after=0.2, path="transitiveMembers")

    started = time.monotonic()
    users = graph.fetch_group_users(group_id)

    assert time.monotonic() - started >= 0.2
    assert "Alex Wilber" in names(users)
    assert graph.request_count == 2
    assert fake_entra.control.counts()["GET /groups/{id}/transitiveMembers/microsoft.graph.user"] == 2


def test_a_503_that_lasts_ends_in_a_typed_error_after_bounded_attempts(fake_entra):
    graph = graph_for(fake_entra)
    fake_entra.control.inject(503, count=None, path="transitiveMembers")

    with pytest.raises(ServiceUnavailable) as caught:
        graph.fetch_group_users(fake_entra.demo.group_id("Sales"))

    assert caught.value.message == "Microsoft is temporarily unavailable: try again in a few minutes."
    assert graph.request_count == FAST_RETRY.max_attempts


def test_throttling_on_a_middle_page_fails_the_whole_fetch(fake_entra):
    tenant = fake_entra.control.create_tenant(seed=12, users=2100, groups=3)
    provider = app_only(fake_entra, tenant["tenant_id"], tenant["app"]["client_id"], tenant["app"]["client_secret"])
    graph = graph_for(fake_entra, provider)
    fake_entra.control.inject(429, retry_after=0.01, count=None, page=2)

    with pytest.raises(Throttled):
        graph.fetch_group_users(tenant["big_group_id"])


def test_an_expired_access_token_is_replaced_once(fake_entra, clock):
    fake_entra.control.set_token_lifetime(access=2)
    provider = app_only(fake_entra, clock=clock)
    graph = graph_for(fake_entra, provider)
    graph.get_group(fake_entra.demo.group_id("Sales"))
    time.sleep(2.05)

    assert graph.get_group(fake_entra.demo.group_id("Sales"))["displayName"] == "Sales"
    counts = fake_entra.control.counts()
    assert counts["POST /token"] == 2 and counts["GET /groups/{id}"] == 3


def test_missing_application_permissions_name_the_one_to_grant(fake_entra):
    demo = fake_entra.demo
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID)
    with pytest.raises(PermissionDenied) as caught:
        graph_for(fake_entra).search_groups("")
    assert "GroupMember.Read.All" in caught.value.message and caught.value.status == 403

    fake_entra.control.grant_consent(demo.TENANT_ID, demo.ENTERPRISE_APP_CLIENT_ID,
                                     application=("GroupMember.Read.All",))
    with pytest.raises(PermissionDenied) as caught:
        graph_for(fake_entra).fetch_group_users(demo.group_id("Sales"))
    assert caught.value.permission == "User.Read.All"


def test_a_tenant_typed_as_a_domain_resolves_to_its_guid_and_a_guid_is_kept(fake_entra):
    demo = fake_entra.demo
    transport = Transport(retry=FAST_RETRY)

    assert tenant_guid(fake_entra.authority_url, demo.TENANT_DOMAIN.upper(), transport) == demo.TENANT_ID
    assert tenant_guid(fake_entra.authority_url, demo.TENANT_ID.upper(), transport) == demo.TENANT_ID


def test_an_unknown_group_is_group_not_found(fake_entra):
    with pytest.raises(GroupNotFound) as caught:
        graph_for(fake_entra).fetch_group_users(str(uuid.uuid4()))
    assert caught.value.status == 404 and caught.value.code == "Request_ResourceNotFound"


UNKNOWN_CLIENT_ID = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


@pytest.mark.parametrize("mistake, error_class, field", [
    (lambda demo: {"secret": demo.ENTERPRISE_APP_SECRET_ID}, InvalidClientSecret, "client_secret"),
    (lambda demo: {"secret": demo.ENTERPRISE_APP_EXPIRED_SECRET}, ExpiredClientSecret, "client_secret"),
    (lambda demo: {"client_id": UNKNOWN_CLIENT_ID}, ApplicationNotInTenant, "client_id"),
    (lambda demo: {"tenant": "nowhere.onmicrosoft.com"}, TenantNotFound, "tenant_id"),
], ids=["secret-id-pasted", "expired-secret", "unknown-client-id", "unknown-tenant"])
def test_each_enterprise_app_mistake_gets_its_section_4_message(fake_entra, mistake, error_class, field):
    with pytest.raises(error_class) as caught:
        graph_for(fake_entra, app_only(fake_entra, **mistake(fake_entra.demo))).search_groups("")

    assert caught.value.field == field and caught.value.message == error_class.default_message
    assert fake_entra.demo.ENTERPRISE_APP_SECRET not in caught.value.message


def test_a_delegated_connection_rotates_its_refresh_token_on_every_renewal(fake_entra):
    rotated = []
    first = connect(fake_entra)
    provider = delegated(fake_entra, first, rotated)
    graph = graph_for(fake_entra, provider)

    assert graph.search_groups("training")[0]["displayName"] == "Training"
    provider.invalidate()
    graph.get_group(fake_entra.demo.group_id("Training"))

    assert len(rotated) == 2 and first not in rotated and rotated[0] != rotated[1]
    with pytest.raises(ConnectionExpired):
        delegated(fake_entra, first, []).access_token()


def test_a_revoked_refresh_token_and_withdrawn_consent_get_their_messages(fake_entra):
    demo = fake_entra.demo
    revoked = connect(fake_entra)
    fake_entra.control.revoke_refresh_tokens(client_id=demo.PORTAL_CLIENT_ID)
    with pytest.raises(ConnectionExpired) as caught:
        delegated(fake_entra, revoked, []).access_token()
    assert caught.value.message == "The Microsoft connection has expired: reconnect."

    unconsented = connect(fake_entra)
    fake_entra.control.revoke_consent(demo.TENANT_ID, demo.PORTAL_CLIENT_ID, kind="delegated")
    with pytest.raises(ConsentRequired) as caught:
        delegated(fake_entra, unconsented, []).access_token()
    assert caught.value.message == "An administrator must grant consent."


def test_a_delta_round_reports_changes_then_an_expired_link_asks_for_a_full_sync(fake_entra):
    demo = fake_entra.demo
    graph = graph_for(fake_entra)
    initial = graph.users_delta()
    groups = graph.groups_delta(group_ids=[demo.group_id("Sales")])
    assert demo.user_id("Megan Bowen") in {user["id"] for user in initial.items}
    (sales,) = groups.items
    assert sales["displayName"] == "Sales"
    assert demo.user_id("Alex Wilber") in {member["id"] for member in sales["members@delta"]}

    fake_entra.control.update_user(demo.TENANT_ID, demo.user_id("Alex Wilber"), jobTitle="Head of Sales")
    fake_entra.control.remove_member(demo.TENANT_ID, demo.group_id("Sales"), demo.user_id("Lee Gu"))
    users_round = graph.users_delta(initial.delta_link)
    groups_round = graph.groups_delta(groups.delta_link)

    assert [(user["id"], user["jobTitle"]) for user in users_round.items] == [
        (demo.user_id("Alex Wilber"), "Head of Sales")]
    (changed,) = groups_round.items
    assert changed["members@delta"] == [{"@odata.type": "#microsoft.graph.user", "id": demo.user_id("Lee Gu"),
                                         "@removed": {"reason": "deleted"}}]
    assert graph.users_delta(users_round.delta_link).items == []

    fake_entra.control.expire_delta_tokens(demo.TENANT_ID)
    with pytest.raises(DeltaExpired):
        graph.users_delta(users_round.delta_link)


def test_a_large_group_split_over_delta_entries_comes_back_as_one(fake_entra):
    tenant = fake_entra.control.create_tenant(seed=13, users=1200, groups=9)
    provider = app_only(fake_entra, tenant["tenant_id"], tenant["app"]["client_id"], tenant["app"]["client_secret"])

    (group,) = graph_for(fake_entra, provider).groups_delta(group_ids=[tenant["big_group_id"]]).items

    members = [member["id"] for member in group["members@delta"]]
    assert len(members) == len(set(members)) == 1080 + len(tenant["nested_group_ids"])
    assert group["displayName"] == "All Staff"


def test_an_unreachable_server_is_a_network_error_after_bounded_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = AppOnlyTokenProvider(f"http://127.0.0.1:{port}", "contoso.onmicrosoft.com", str(uuid.uuid4()),
                                    "s~cret", transport=Transport(retry=FAST_RETRY))

    with pytest.raises(NetworkError) as caught:
        GraphClient(f"http://127.0.0.1:{port}/v1.0", provider, retry=FAST_RETRY).search_groups("")
    assert caught.value.message == "Microsoft could not be reached; try again in a few minutes."
    assert provider.transport.request_count == FAST_RETRY.max_attempts


def test_nested_groups_of_a_security_group_and_of_a_microsoft_365_group(fake_entra):
    demo = fake_entra.demo
    graph = graph_for(fake_entra)

    assert graph.nested_group_ids(demo.group_id("Engineering")) == [demo.group_id("Platform Team")]
    # Graph answers 400 Request_UnsupportedQuery when asked for the groups in a Microsoft 365 group
    assert graph.nested_group_ids(demo.group_id("Mentoring Circle")) == []
    assert len(graph.fetch_group_users(demo.group_id("Mentoring Circle"))) == 6
