"""Study storage at a URI: small files go up after each change and come back down for queries."""

import shutil
import time

import pytest

from raypruning.errors import InputError
from raypruning.storage import fetch, is_uri, locate, within


def test_local_storage_is_the_study_folder(tmp_path):
    loc = locate(str(tmp_path), "s")
    assert loc.remote is None and loc.local == (tmp_path / "s").resolve() and loc.root == str(loc.local)
    assert not is_uri(str(tmp_path))


def test_uri_storage_round_trip(tmp_path):
    uri = f"file://{tmp_path / 'bucket'}"
    loc = locate(uri, "study-uri-test")
    assert loc.remote == f"{uri}/study-uri-test" and loc.child("tune") == f"{uri}/study-uri-test/tune"
    assert not loc.local.exists()  # locating makes nothing: the study makes its cache when it starts
    loc.check()
    loc.local.mkdir(parents=True)
    (loc.local / "trials.parquet").write_bytes(b"table")
    (loc.local / "study.json").write_text("{}")
    assert not loc.exists("trials.parquet")
    loc.push()
    assert loc.exists("trials.parquet")
    assert (tmp_path / "bucket" / "study-uri-test" / "study.json").read_text() == "{}"
    down = fetch(loc.remote)
    assert (down / "trials.parquet").read_bytes() == b"table"
    shutil.rmtree(loc.local)


def test_two_uris_with_one_study_name_cache_apart():
    assert locate("s3://a/x", "s").local != locate("s3://b/x", "s").local


def test_a_storage_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is a file, not a folder"):
        locate(str(tmp_path / "file" / "deeper"), "s").check()


def test_within_reports_a_call_that_does_not_answer():
    start = time.monotonic()
    with pytest.raises(InputError, match="the store: no answer within 0.2 s"):
        within(0.2, "the store", lambda: time.sleep(5))
    assert time.monotonic() - start < 2
    with pytest.raises(InputError, match="the store: gone"):
        within(1, "the store", lambda: (_ for _ in ()).throw(FileNotFoundError("gone")))
    assert within(1, "the store", lambda: 7) == 7
