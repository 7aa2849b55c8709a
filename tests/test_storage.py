"""Study storage at a URI: small files go up after each change and come back down for queries."""

from raypruning.storage import fetch, is_uri, locate


def test_local_storage_is_the_study_folder(tmp_path):
    loc = locate(str(tmp_path), "s")
    assert loc.remote is None and loc.local == (tmp_path / "s").resolve() and loc.root == str(loc.local)
    assert not is_uri(str(tmp_path))


def test_uri_storage_round_trip(tmp_path):
    uri = f"file://{tmp_path / 'bucket'}"
    loc = locate(uri, "study-uri-test")
    assert loc.remote == f"{uri}/study-uri-test" and loc.child("tune") == f"{uri}/study-uri-test/tune"
    (loc.local / "trials.parquet").write_bytes(b"table")
    (loc.local / "study.json").write_text("{}")
    assert not loc.exists("trials.parquet")
    loc.push()
    assert loc.exists("trials.parquet")
    assert (tmp_path / "bucket" / "study-uri-test" / "study.json").read_text() == "{}"
    down = fetch(loc.remote)
    assert (down / "trials.parquet").read_bytes() == b"table"
