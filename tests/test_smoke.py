"""The app starts on a migrated database and answers its health check."""


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_login_required(client):
    response = client.get("/projects/")
    assert response.status_code == 302
    assert "/login" in response.location
