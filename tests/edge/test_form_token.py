"""A form whose token the portal cannot accept: the page says what happened and what to do, and the log says so."""
import logging


def test_a_form_without_its_token_says_what_happened_and_what_to_do_and_is_logged(client, caplog):
    with caplog.at_level(logging.WARNING, logger="webapp.request_checks"):
        response = client.post("/login", csrf=False, data={"email": "someone@example.com", "password": "x"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Session expired" not in page
    assert "The form had expired. Reload the page and try again. Nothing was changed" in page
    assert [record.getMessage() for record in caplog.records] == [
        "Form refused on POST /login: The CSRF token is missing."]
    assert "someone@example.com" not in caplog.text
