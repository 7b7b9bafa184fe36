"""Start-up options: a generated tenant from --seed and extra tenants from --data."""

import subprocess
import sys

import requests

from fake_entra.testing import FakeEntra

DATA = {
    "tenants": [{
        "id": "0a0b0c0d-1111-4222-8333-444455556666", "domain": "tailspin.onmicrosoft.com", "name": "Tailspin",
        "users": [{"id": "aaaaaaaa-0000-4000-8000-000000000001", "displayName": "Tia Tailspin",
                   "userPrincipalName": "tia@tailspin.onmicrosoft.com", "password": "pw", "admin": True}],
        "groups": [{"id": "bbbbbbbb-0000-4000-8000-000000000001", "displayName": "Pilots",
                    "members": ["aaaaaaaa-0000-4000-8000-000000000001", "eeeeeeee-0000-4000-8000-000000000001",
                                "eeeeeeee-0000-4000-8000-000000000002", "eeeeeeee-0000-4000-8000-000000000003"]}],
        "objects": [
            {"@odata.type": "#microsoft.graph.orgContact", "id": "eeeeeeee-0000-4000-8000-000000000001",
             "displayName": "Tower Contact", "mail": "tower@airport.example"},
            {"@odata.type": "#microsoft.graph.device", "id": "eeeeeeee-0000-4000-8000-000000000002",
             "displayName": "Cockpit Tablet"},
            {"@odata.type": "#microsoft.graph.servicePrincipal", "id": "eeeeeeee-0000-4000-8000-000000000003",
             "displayName": "Flight Planner"}],
    }],
    "apps": [{"client_id": "cccccccc-0000-4000-8000-000000000001", "display_name": "Tailspin Sync",
              "home_tenant_id": "0a0b0c0d-1111-4222-8333-444455556666",
              "secrets": [{"secret_id": "dddddddd-0000-4000-8000-000000000001", "value": "tail8Q~secret"}],
              "application_permissions": ["GroupMember.Read.All"]}],
    "consents": [{"tenant_id": "tailspin.onmicrosoft.com", "client_id": "cccccccc-0000-4000-8000-000000000001",
                  "application": ["GroupMember.Read.All"]}],
}


def test_seed_and_data_file_add_tenants_next_to_the_demo():
    with FakeEntra.start(seed=4, users=300, groups=12, big_group_size=250, data=DATA) as server:
        (generated,) = server.generated
        assert generated["user_count"] == 300 and len(generated["group_ids"]) == 12
        token = server.app_token(generated["tenant_id"], generated["app"]["client_id"],
                                 generated["app"]["client_secret"])
        headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}
        url = (f"{server.graph_url}/groups/{generated['big_group_id']}/transitiveMembers/microsoft.graph.user"
               "?$top=999&$count=true")
        assert len(requests.get(url, headers=headers).json()["value"]) == 250
        token = server.app_token("tailspin.onmicrosoft.com", "cccccccc-0000-4000-8000-000000000001", "tail8Q~secret")
        members = requests.get(f"{server.graph_url}/groups/bbbbbbbb-0000-4000-8000-000000000001/members",
                               headers={"Authorization": f"Bearer {token}"}).json()["value"]
        assert [(m["@odata.type"], m["id"]) for m in members] == [
            ("#microsoft.graph.user", "aaaaaaaa-0000-4000-8000-000000000001"),
            ("#microsoft.graph.orgContact", "eeeeeeee-0000-4000-8000-000000000001"),
            ("#microsoft.graph.device", "eeeeeeee-0000-4000-8000-000000000002"),
            ("#microsoft.graph.servicePrincipal", "eeeeeeee-0000-4000-8000-000000000003")]
        assert members[0]["displayName"] is None
        tenants = {t["name"] for t in server.control.tenants()}
        assert {"Contoso Learning", "Fabrikam Training", "Tailspin", "Generated 4"} <= tenants


def test_generation_is_deterministic():
    with FakeEntra.start(seed=21, users=40, groups=4) as first, FakeEntra.start(seed=21, users=40, groups=4) as second:
        assert first.generated == second.generated


def test_help_documents_the_index_lag():
    result = subprocess.run([sys.executable, "-m", "fake_entra", "--help"], capture_output=True, text=True, check=True)
    assert "--index-lag SECONDS" in result.stdout and "ConsistencyLevel: eventual" in result.stdout
