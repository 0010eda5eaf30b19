from openapi_spec_validator import validate


def test_openapi_document_is_valid(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.")
    for path in ["/api/v1/auth/token", "/api/v1/me", "/api/v1/units", "/api/v1/locate"]:
        assert path in document["paths"]


def test_docs_page_is_served_without_cdn(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "cdn" not in response.content.decode().lower()
