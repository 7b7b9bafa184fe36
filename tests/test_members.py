from webapp.models import TeamLeader, User


def members_url(team, suffix=""):
    return f"/teams/{team.id}/members/{suffix}"


def test_members_page_lists_first_page_and_count(signed_in, team):
    page = signed_in.get(members_url(team)).get_data(as_text=True)
    assert "26 members" in page  # 25 members and the leader
    assert "Member 00000" in page and "Member 00009" in page
    assert "Member 00010" not in page
    assert "Page 1 of 3" in page


def test_paging_goes_on_in_sql_order(signed_in, team):
    page = signed_in.get(members_url(team) + "?page=2", headers={"HX-Request": "true", "HX-Target": "member-list"})
    html = page.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="member-list"')
    assert "Member 00010" in html and "Member 00019" in html and "Member 00009" not in html
    assert "Page 2 of 3" in html


def test_active_search_by_name_and_email(signed_in, team):
    by_name = signed_in.get(members_url(team) + "?q=member 0001", headers={"HX-Request": "true",
                                                                       "HX-Target": "member-list"})
    html = by_name.get_data(as_text=True)
    assert "10 members matching" in html and "Member 00019" in html and "Member 00020" not in html
    by_email = signed_in.get(members_url(team) + "?q=MEMBER24.team").get_data(as_text=True)
    assert "1 member matching" in by_email and "Member 00024" in by_email


def test_search_with_no_match_says_so(signed_in, team):
    html = signed_in.get(members_url(team) + "?q=nobody-by-this-name").get_data(as_text=True)
    assert "0 members" in html and "No members match this search." in html


def _first_member(team):
    return User.select().where(User.team == team, User.name == "Member 00003").get()


def test_edit_member(signed_in, team):
    member = _first_member(team)
    User.update(synced_by_team=team).where(User.id == member.id).execute()
    form = signed_in.get(members_url(team, f"{member.id}/edit")).get_data(as_text=True)
    assert 'name="email" value="member3.team' in form
    response = signed_in.post(members_url(team, str(member.id)), data={
        "name": "Ada Lovelace", "email": "Ada@Example.com", "job_title": "Analyst", "department": "Maths"})
    assert response.status_code == 200
    assert "Ada Lovelace" in response.get_data(as_text=True)
    member = User.get_by_id(member.id)
    assert (member.name, member.email, member.job_title, member.department) == (
        "Ada Lovelace", "ada@example.com", "Analyst", "Maths")


def test_edit_rejects_invalid_email_and_taken_email(signed_in, team, leader):
    member = _first_member(team)
    bad = signed_in.post(members_url(team, str(member.id)), data={"name": "X", "email": "not-an-email"})
    assert bad.status_code == 422
    assert "This is not a valid email address." in bad.get_data(as_text=True)
    taken = signed_in.post(members_url(team, str(member.id)), data={"name": "X", "email": leader.email.upper()})
    assert taken.status_code == 422
    assert "Another user already has this email address." in taken.get_data(as_text=True)
    assert User.get_by_id(member.id).name == "Member 00003"


def test_remove_then_restore(signed_in, team):
    member = _first_member(team)
    User.update(synced_by_team=team).where(User.id == member.id).execute()
    response = signed_in.post(members_url(team, f"{member.id}/remove"), headers={"HX-Request": "true"})
    assert "was removed" in response.get_data(as_text=True)
    removed = User.get_by_id(member.id)
    assert removed.team_id is None and not removed.active
    assert "25 members" in signed_in.get(members_url(team)).get_data(as_text=True)
    assert "Member 00003" in signed_in.get(members_url(team, "removed")).get_data(as_text=True)

    restore = signed_in.post(members_url(team, f"{member.id}/restore"))
    assert restore.status_code == 303
    restored = User.get_by_id(member.id)
    assert restored.team_id == team.id and restored.active and restored.removed_at is None
    assert "26 members" in signed_in.get(members_url(team)).get_data(as_text=True)


def test_a_leader_cannot_be_removed(signed_in, team, leader):
    response = signed_in.post(members_url(team, f"{leader.id}/remove"), headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "A team leader cannot be removed" in response.get_data(as_text=True)
    assert User.get_by_id(leader.id).team_id == team.id


def test_restore_is_refused_once_the_user_joined_another_team(signed_in, team, make_team):
    member = _first_member(team)
    signed_in.post(members_url(team, f"{member.id}/remove"))
    other = make_team("Elsewhere")
    User.update(team=other).where(User.id == member.id).execute()
    assert signed_in.post(members_url(team, f"{member.id}/restore")).status_code == 404
    assert User.get_by_id(member.id).team_id == other.id


def test_the_sign_in_email_of_an_account_the_team_does_not_own_is_not_changed(signed_in, team, make_team):
    hand_added = _first_member(team)
    other_leader = User.create(email="boss@other.example", name="Boss Elsewhere", team=team, synced_by_team=team)
    TeamLeader.create(team=make_team("Elsewhere"), user=other_leader)
    for member in (hand_added, other_leader):
        response = signed_in.post(members_url(team, str(member.id)), data={
            "name": "Renamed", "email": "attacker@example.com", "job_title": "", "department": ""})
        assert response.status_code == 422
        assert "Only the sign-in email of an account this team&#39;s sync created" in response.get_data(as_text=True)
        assert User.get_by_id(member.id).email == member.email
    kept = signed_in.post(members_url(team, str(hand_added.id)), data={
        "name": "Renamed", "email": hand_added.email, "job_title": "Tutor", "department": ""})
    assert kept.status_code == 200 and User.get_by_id(hand_added.id).name == "Renamed"


def test_removing_a_member_who_leads_another_team_keeps_their_account_active(signed_in, team, make_team):
    other_leader = User.create(email="boss@other.example", name="Boss Elsewhere", team=team, synced_by_team=team)
    TeamLeader.create(team=make_team("Elsewhere"), user=other_leader)
    response = signed_in.post(members_url(team, f"{other_leader.id}/remove"), headers={"HX-Request": "true"})
    assert "The account stays active" in response.get_data(as_text=True)
    removed = User.get_by_id(other_leader.id)
    assert (removed.team_id, removed.active, removed.removed_from_team_id) == (None, True, team.id)
