"""Health, docs and the problem+json convention."""


def test_health_answers_ok_without_auth(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_ready_reports_database_and_redis(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_unknown_route_is_problem_json(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 404


def test_wrong_method_is_problem_json_with_allow(client):
    response = client.delete("/health")
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_a_400_problem(client):
    response = client.post("/api/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


def test_openapi_document_declares_bearer_auth(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "/api/jobs/{job_id}" in spec["paths"]


def test_swagger_ui_assets_are_served_locally(client):
    page = client.get("/api-docs")
    assert page.status_code == 200
    assert b"/api-docs/assets/swagger-ui-bundle.js" in page.data
    assert client.get("/api-docs/assets/swagger-ui-bundle.js").status_code == 200
