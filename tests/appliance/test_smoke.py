def test_home_renders_language_chooser_first(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "Bamanankan" in r.get_data(as_text=True)
