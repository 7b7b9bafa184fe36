"""The leaders of the load test: each signs in as its own team's leader, then browses Members, searches, pages,
opens Azure Entra Sync and saves its sync settings, as the pages' htmx would ask for them."""
import json
import os
import random
import re
from urllib.parse import urlencode

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

LEADERS = json.loads(open(os.environ["LOAD_LEADERS"]).read())
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')
SEARCHES = ("Member 00", "member1", "Member 004", "example.com", "Member 0099", "nobody-matches")


class Leader(FastHttpUser):  # geventhttpclient: the load generator takes less of the CPUs it shares
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.leader = LEADERS.pop(0) if LEADERS else random.choice(json.loads(open(os.environ["LOAD_LEADERS"]).read()))
        self.team = self.leader["team_id"]
        page = self.client.get("/login", name="Sign-in page").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        with self.client.post("/login", name="Sign in", allow_redirects=False, catch_response=True,
                              data={"email": self.leader["email"], "password": self.leader["password"],
                                    "csrf_token": token}) as answer:
            if answer.status_code != 302:
                answer.failure(f"sign-in answered {answer.status_code}")
        self.csrf = CSRF.search(self.client.get(f"/teams/{self.team}/members/", name="Members").text).group(1)
        self.auto_sync = False

    def htmx(self, extra: dict | None = None) -> dict:
        return {"HX-Request": "true", "X-CSRFToken": self.csrf, **(extra or {})}

    @task(4)
    def members(self) -> None:
        self.client.get(f"/teams/{self.team}/members/", name="Members")

    @task(3)
    def search(self) -> None:
        self.client.get(f"/teams/{self.team}/members/?" + urlencode({"q": random.choice(SEARCHES)}),
                        headers=self.htmx(), name="Members search")

    @task(3)
    def page(self) -> None:
        self.client.get(f"/teams/{self.team}/members/?page={random.randint(2, self.leader['pages'])}",
                        headers=self.htmx(), name="Members paging")

    @task(2)
    def sync_page(self) -> None:
        self.client.get(f"/teams/{self.team}/entra-sync/", name="Azure Entra Sync")

    @task(1)
    def save_settings(self) -> None:
        self.auto_sync = not self.auto_sync
        form = {"group_id": self.leader["group_id"], "group_name": self.leader["group_name"],
                "auto_sync": "1" if self.auto_sync else ""}
        with self.client.post(f"/teams/{self.team}/entra-sync/", data=form, headers=self.htmx(),
                              name="Save settings", catch_response=True) as answer:
            if answer.status_code != 200 or "Saved." not in answer.text:
                answer.failure(f"save answered {answer.status_code}")
