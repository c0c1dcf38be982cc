import os
import shutil

import pytest

from shapca.data import fetch, manifest
from shapca.data.errors import ChecksumError, FetchError
from shapca.data.types import DATASETS

REL2ID = (manifest.CAMIM, "CAMIM/data/ours_rel2id.json")
MNRE_DEV = (manifest.MNRE, "mnre_txt/mnre_val .txt")


def test_project_manifest_equals_the_mirror_list(mirror):
    assert fetch.manifest.MANIFEST_PATH.read_bytes() == (mirror / "MANIFEST.tsv").read_bytes()
    assert len(manifest.entries()) == 33
    assert {e.key for d in DATASETS for e in manifest.entries_for([d])} == {e.key for e in manifest.entries()}


def test_bad_manifest_names_line(tmp_path):
    p = tmp_path / "m.tsv"
    p.write_text("repo\tcommit\tpath\tbytes\tsha256\na/b\tc\td\n", encoding="utf-8")
    with pytest.raises(fetch.manifest.DataError, match=f"{p}:2:"):
        manifest.entries(p)


def test_locations_from_arguments_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SHAPCA_DATA_MIRROR", str(tmp_path / "env"))
    assert fetch.data_root() == tmp_path / "env"
    assert fetch.data_root(mirror=str(tmp_path / "arg")) == tmp_path / "arg"
    monkeypatch.delenv("SHAPCA_DATA_MIRROR")
    monkeypatch.setenv("SHAPCA_CACHE", str(tmp_path / "c"))
    assert fetch.data_root() == tmp_path / "c" / "files"
    monkeypatch.delenv("SHAPCA_CACHE")
    assert fetch.cache_dir() == fetch.Path("~/.cache/shapca").expanduser()


def test_each_process_hashes_what_it_reads_whatever_the_file_times_say(mirror, tmp_path, monkeypatch):
    fake = tmp_path / "mirror"
    copy = fake / REL2ID[0] / REL2ID[1]
    copy.parent.mkdir(parents=True)
    shutil.copyfile(mirror / REL2ID[0] / REL2ID[1], copy)
    assert fetch.resolve(*REL2ID, mirror=str(fake), cache=str(tmp_path / "c")) == copy
    stat = copy.stat()
    data = bytearray(copy.read_bytes())
    data[10] ^= 1  # one byte changed, size and modification time kept
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setattr(fetch, "_verified_here", set())  # a new process
    with pytest.raises(ChecksumError, match="sha256"):
        fetch.resolve(*REL2ID, mirror=str(fake), cache=str(tmp_path / "c"))
    assert not list((tmp_path / "c").glob("verified*"))  # no record of checks is kept to be trusted later


def test_mirror_missing_or_tampered_file_is_refused(mirror, tmp_path):
    fake = tmp_path / "mirror"
    with pytest.raises(FetchError, match="missing from the mirror"):
        fetch.resolve(*REL2ID, mirror=str(fake), cache=str(tmp_path / "c"))
    copy = fake / REL2ID[0] / REL2ID[1]
    copy.parent.mkdir(parents=True)
    shutil.copyfile(mirror / REL2ID[0] / REL2ID[1], copy)
    assert fetch.resolve(*REL2ID, mirror=str(fake), cache=str(tmp_path / "c")) == copy
    # Same size, one byte changed, new mtime: the stamp no longer applies and the hash catches it.
    data = bytearray(copy.read_bytes())
    data[10] ^= 1
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(1, 1))
    with pytest.raises(ChecksumError, match="sha256"):
        fetch.resolve(*REL2ID, mirror=str(fake), cache=str(tmp_path / "c"))
    copy.write_bytes(bytes(data) + b"x")
    with pytest.raises(ChecksumError, match="bytes"):
        fetch.resolve(*REL2ID, mirror=str(fake), cache=str(tmp_path / "c"))


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_download_over_loopback_http(mirror, tmp_path, monkeypatch, serve):
    monkeypatch.delenv("SHAPCA_DATA_MIRROR")
    cache = tmp_path / "cache"
    with serve(mirror) as (url, hits):
        paths = fetch.fetch(["twitter2017"], cache=str(cache), base_url=url)
        assert len(paths) == 5 and len(hits) == 5
        for p, e in zip(paths, manifest.entries_for(["twitter2017"])):
            assert p == cache / "files" / e.repo / e.path
            assert p.read_bytes() == (mirror / e.repo / e.path).read_bytes()
        assert (cache / "extracted").is_dir()  # 2017.zip extracted on fetch
        # A name with a space is URL-quoted and found.
        dev = fetch.resolve(*MNRE_DEV, cache=str(cache), base_url=url)
        assert dev.read_bytes() == (mirror / MNRE_DEV[0] / MNRE_DEV[1]).read_bytes()
        assert hits[-1].endswith("mnre_val%20.txt")
        # Second fetch: everything is already there and verified, nothing is downloaded.
        fetch.fetch(["twitter2017"], cache=str(cache), base_url=url)
        assert len(hits) == 6
    assert not [n for n in _leftovers(cache) if n.endswith(".part")]


@pytest.mark.parametrize("mode, error, message", [("corrupt", ChecksumError, "sha256"),
                                                  ("truncate", FetchError, "download failed|bytes")])
def test_bad_download_is_not_kept(mirror, tmp_path, monkeypatch, mode, error, message, serve):
    monkeypatch.delenv("SHAPCA_DATA_MIRROR")
    cache = tmp_path / "cache"
    with serve(mirror, mode) as (url, _):
        with pytest.raises(error, match=message):
            fetch.resolve(*MNRE_DEV, cache=str(cache), base_url=url)
    assert _leftovers(cache / "files") == []  # neither the final name nor a .part file


def test_broken_cached_copy_is_downloaded_again(mirror, tmp_path, monkeypatch, serve):
    monkeypatch.delenv("SHAPCA_DATA_MIRROR")
    cache = tmp_path / "cache"
    target = cache / "files" / REL2ID[0] / REL2ID[1]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"{}")  # what an interrupted copy by another tool could leave
    logs = []
    with serve(mirror) as (url, hits):
        assert fetch.resolve(*REL2ID, cache=str(cache), base_url=url, log=logs.append) == target
    assert target.read_bytes() == (mirror / REL2ID[0] / REL2ID[1]).read_bytes()
    assert len(hits) == 1 and "bad" in logs[0]


def test_unreachable_server_and_unknown_file(tmp_path, monkeypatch, serve):
    monkeypatch.delenv("SHAPCA_DATA_MIRROR")
    with serve(tmp_path / "empty") as (url, _):
        with pytest.raises(FetchError, match="404"):
            fetch.resolve(*REL2ID, cache=str(tmp_path / "c"), base_url=url)
    with pytest.raises(KeyError, match="not in"):
        fetch.resolve("someone/else", "x.txt")
