"""The physical floors: the least work any sync of N members must do, measured on the same machine."""
import time

import requests

from webapp.db import database
from webapp.models import Team, User

SELECT = "id,displayName,givenName,surname,mail,userPrincipalName,accountEnabled,userType,jobTitle,department"


def app_token(fake, tenant):
    response = requests.post(fake.token_url(tenant["tenant_id"]), data={
        "grant_type": "client_credentials", "client_id": tenant["app"]["client_id"],
        "client_secret": tenant["app"]["client_secret"], "scope": "https://graph.microsoft.com/.default"})
    response.raise_for_status()
    return response.json()["access_token"]


def list_member_ids(fake, tenant, group_id):
    """Every user id of the group, by the bare loop; also what the fetch floor does."""
    ids, _, _ = fetch_floor(fake, tenant, group_id)
    return ids


def fetch_floor(fake, tenant, group_id):
    """One GET per page, JSON parsed, nothing else: (ids, seconds, requests)."""
    token = app_token(fake, tenant)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}
    url = (f"{fake.graph_url}/groups/{group_id}/transitiveMembers/microsoft.graph.user"
           f"?$select={SELECT}&$top=999&$count=true")
    ids, count = [], 0
    started = time.perf_counter()
    while url:
        body = session.get(url, headers=headers).json()
        count += 1
        ids.extend(user["id"] for user in body["value"])
        url = body.get("@odata.nextLink")
    return ids, time.perf_counter() - started, count


def write_floor(size, batch=1000):
    """One committed bulk insert of `size` users with their team membership (removed again, untimed)."""
    rows = [{"email": f"floor{n}@floor.example", "name": f"Floor {n}", "entra_object_id": f"floor-{n}",
             "entra_tenant_id": "floor"} for n in range(size)]
    started = time.perf_counter()
    with database.atomic():
        team = Team.create(name="write floor")
        for start in range(0, size, batch):
            User.insert_many([dict(row, team=team.id) for row in rows[start:start + batch]]).execute()
    elapsed = time.perf_counter() - started
    with database.atomic():
        User.delete().where(User.team == team).execute()
        team.delete_instance()
    return elapsed
