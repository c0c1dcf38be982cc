import stat
import zipfile

import pytest

from shapca.data.archive import extract_zip
from shapca.data.errors import FetchError
from shapca.data.fetch import resolve_member
from shapca.data.manifest import PGIM


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            if isinstance(name, zipfile.ZipInfo):
                zf.writestr(name, data)
            else:
                zf.writestr(name, data)
    return path


def _symlink(name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def test_extracts_nested_members(tmp_path):
    archive = _zip(tmp_path / "ok.zip", [("a/b.txt", "x"), ("c.txt", "yz")])
    out = extract_zip(archive, tmp_path / "out")
    assert (out / "a" / "b.txt").read_text() == "x" and (out / "c.txt").read_text() == "yz"
    assert [p.name for p in tmp_path.iterdir() if ".part-" in p.name] == []


@pytest.mark.parametrize("member, reason", [
    (("../evil.txt", "x"), "escapes"),
    (("a/../../evil.txt", "x"), "escapes"),
    (("/tmp/evil.txt", "x"), "absolute"),
    (("C:/evil.txt", "x"), "absolute"),
    (("..\\evil.txt", "x"), "escapes"),
    (_symlink("link", "/etc/passwd"), "symbolic link"),
])
def test_escaping_member_is_refused_and_nothing_written(tmp_path, member, reason):
    archive = _zip(tmp_path / "bad.zip", [("fine.txt", "ok"), member])
    target = tmp_path / "deep" / "out"
    with pytest.raises(FetchError, match=reason):
        extract_zip(archive, target)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.zip", "deep"]


def test_not_a_zip(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"no zip here")
    with pytest.raises(FetchError, match="not a zip"):
        extract_zip(bad, tmp_path / "out")


def test_pinned_archive_member_and_missing_member():
    path = resolve_member(PGIM, "data/data_PGIM/2017.zip", "labels.txt")
    assert "B-MISC" in path.read_text()
    with pytest.raises(FetchError, match="no member"):
        resolve_member(PGIM, "data/data_PGIM/2017.zip", "nope.txt")
