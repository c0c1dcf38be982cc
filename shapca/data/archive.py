"""Safe zip extraction: every member is checked before anything is written, and the result appears atomically.

A member is refused (FetchError, nothing extracted) when its name is absolute (/x, \\x, C:x), has a ".."
component, or it is a symbolic link. Extraction goes to a temporary sibling folder renamed into place at the
end, so an interrupted extraction never looks complete.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from shapca.data.errors import FetchError

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why this member must not be extracted, or None when it is safe."""
    name = info.filename.replace("\\", "/")
    if name.startswith("/") or _DRIVE.match(name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' component escapes the target folder"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return None


def check_members(zf: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    for info in infos:
        reason = unsafe_reason(info)
        if reason:
            raise FetchError(f"{label}: refusing archive member {info.filename!r}: {reason}")
    return infos


def extract_zip(archive: Path, target: Path) -> Path:
    """Extract `archive` into the folder `target` (created; left untouched when it already exists)."""
    target = Path(target)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as e:
        raise FetchError(f"{archive}: not a zip archive ({e})") from e
    with zf:
        infos = check_members(zf, str(archive))  # refuse before writing anything
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + ".part-"))
        try:
            root = tmp.resolve()
            for info in infos:
                dest = (tmp / info.filename.replace("\\", "/")).resolve()
                if root not in dest.parents and dest != root:  # second line of defence after check_members
                    raise FetchError(f"{archive}: refusing archive member {info.filename!r}: escapes target")
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            try:
                os.replace(tmp, target)
            except OSError:
                if not target.is_dir():  # not a lost race with another process: a real failure
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target
