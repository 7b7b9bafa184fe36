"""Member search is a substring match on name or email, served by an index on both databases."""
import pytest

from webapp.models import User


@pytest.fixture
def named_members(team):
    User.insert_many([
        {"email": "grace.hopper@navy.example", "name": "Grace Hopper", "team": team.id},
        {"email": "ada@analytical.example", "name": "Ada Lovelace", "team": team.id},
        {"email": "k.johnson@nasa.example", "name": "Katherine Johnson", "team": team.id},
        {"email": "quote\"d@odd.example", "name": "O'Brien \"Quoted\"", "team": team.id},
    ]).execute()


@pytest.mark.parametrize("text, expected", [
    ("hopper", {"Grace Hopper"}),
    ("GRACE", {"Grace Hopper"}),
    ("nasa.ex", {"Katherine Johnson"}),
    ("lace", {"Ada Lovelace"}),
    ("o'brien \"quo", {"O'Brien \"Quoted\""}),
    ("ad", {"Ada Lovelace"}),
    ("k_j", set()),  # LIKE wildcards are literal characters in a search
    ("%", set()),
    ("grace hopper", {"Grace Hopper"}),
    ("hopper grace", set()),  # never matches across the name and the email
])
def test_search_finds_substrings_of_name_or_email(signed_in, team, named_members, text, expected):
    html = signed_in.get(f"/teams/{team.id}/members/", query_string={"q": text}).get_data(as_text=True)
    shown = {name for name in ("Grace Hopper", "Ada Lovelace", "Katherine Johnson") if name in html}
    shown |= {"O'Brien \"Quoted\""} if "O&#39;Brien &#34;Quoted&#34;" in html else set()
    assert shown == expected


def test_search_follows_edits_and_removals(signed_in, team, named_members):
    ada = User.get(User.email == "ada@analytical.example")
    signed_in.post(f"/teams/{team.id}/members/{ada.id}", data={"name": "Ada King", "email": "ada@analytical.example"})
    assert "Ada King" in signed_in.get(f"/teams/{team.id}/members/?q=king").get_data(as_text=True)
    assert "1 member matching" not in signed_in.get(f"/teams/{team.id}/members/?q=lovelace").get_data(as_text=True)
    User.delete().where(User.id == ada.id).execute()
    assert "0 members" in signed_in.get(f"/teams/{team.id}/members/?q=king").get_data(as_text=True)
