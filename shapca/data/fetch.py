"""Get upstream files: from a local mirror, or downloaded from GitHub at the pinned commit into a cache.

Locations. The mirror is the `mirror` argument, else env SHAPCA_DATA_MIRROR; it has the layout
<owner>/<name>/<path>. The cache is the `cache` argument, else env SHAPCA_CACHE, else ~/.cache/shapca; downloads
land in <cache>/files/<owner>/<name>/<path> (the mirror layout, so a filled cache can serve as a mirror) and
archives are extracted into <cache>/extracted/<sha256 prefix>/.

Integrity. Every file is checked against manifest.tsv (size and sha256) before use. A download streams into a
temporary ".part" file that is renamed into place only after both checks pass; on any failure it is deleted, so
a partial or wrong file never looks complete. Each process that reads a file hashes it once: no record of an
earlier check is trusted, since a file can change and keep its size and modification time.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from shapca.data import manifest
from shapca.data.archive import extract_zip
from shapca.data.errors import ChecksumError, FetchError

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
MIRROR_ENV = "SHAPCA_DATA_MIRROR"
CACHE_ENV = "SHAPCA_CACHE"
_CHUNK = 1 << 20


def mirror_dir(mirror: str | os.PathLike | None = None) -> Path | None:
    value = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    return Path(value).expanduser() if value else None


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    value = cache if cache is not None else os.environ.get(CACHE_ENV) or "~/.cache/shapca"
    return Path(value).expanduser()


def data_root(mirror: str | None = None, cache: str | None = None) -> Path:
    """The folder holding <owner>/<name>/<path>: the mirror when one is set, else the cache's download folder."""
    m = mirror_dir(mirror)
    return m if m is not None else cache_dir(cache) / "files"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# (path, size, mtime_ns, sha256) hashed by this process: every process that reads a file hashes it once (the files
# are small), so a changed byte is caught whatever the file's size and modification time say
_verified_here: set[tuple[str, int, int, str]] = set()


def verify(path: Path, entry: manifest.Entry) -> None:
    """Raise ChecksumError unless `path` has the entry's size and sha256."""
    st = path.stat()
    if st.st_size != entry.bytes:
        raise ChecksumError(f"{path}: {st.st_size} bytes, manifest says {entry.bytes} ({entry.key})")
    ident = (str(path.resolve()), st.st_size, st.st_mtime_ns, entry.sha256)
    if ident in _verified_here:
        return
    digest = _sha256(path)
    if digest != entry.sha256:
        raise ChecksumError(f"{path}: sha256 {digest}, manifest says {entry.sha256} ({entry.key})")
    _verified_here.add(ident)


def url_of(entry: manifest.Entry, base_url: str = DEFAULT_BASE_URL) -> str:
    return f"{base_url.rstrip('/')}/{entry.repo}/{entry.commit}/{urllib.parse.quote(entry.path)}"


def download(entry: manifest.Entry, dest: Path, base_url: str = DEFAULT_BASE_URL, timeout: float = 60.0) -> Path:
    """Stream the file to a temporary file beside `dest`, check size and sha256, then rename it to `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    url = url_of(entry, base_url)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        h, size = hashlib.sha256(), 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for block in iter(lambda: resp.read(_CHUNK), b""):
                size += len(block)
                if size > entry.bytes:
                    raise ChecksumError(f"{url}: more than the manifest's {entry.bytes} bytes")
                h.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if size != entry.bytes:
            raise ChecksumError(f"{url}: got {size} bytes, manifest says {entry.bytes}")
        if h.hexdigest() != entry.sha256:
            raise ChecksumError(f"{url}: sha256 {h.hexdigest()}, manifest says {entry.sha256}")
        os.replace(tmp, dest)
    except ChecksumError:
        raise
    except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
        raise FetchError(f"{url}: download failed: {e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


def resolve(repo: str, path: str, mirror: str | None = None, cache: str | None = None,
            base_url: str = DEFAULT_BASE_URL, log: Callable[[str], None] | None = None) -> Path:
    """Local path of one verified upstream file, downloading it into the cache when no mirror is set."""
    entry = manifest.entry(repo, path)
    cdir = cache_dir(cache)
    mdir = mirror_dir(mirror)
    if mdir is not None:
        local = mdir / repo / path
        if not local.is_file():
            raise FetchError(f"{entry.key} is missing from the mirror {mdir} (expected {local})")
        verify(local, entry)
        return local
    local = cdir / "files" / repo / path
    if local.is_file():
        try:
            verify(local, entry)
            return local
        except ChecksumError as e:
            if log:
                log(f"cached copy is bad, downloading again: {e}")
            local.unlink()
    if log:
        log(f"downloading {url_of(entry, base_url)} ({entry.bytes} bytes)")
    download(entry, local, base_url)
    verify(local, entry)
    return local


def extracted(repo: str, path: str, mirror: str | None = None, cache: str | None = None,
              base_url: str = DEFAULT_BASE_URL) -> Path:
    """Folder holding the safely extracted contents of one verified zip archive."""
    archive = resolve(repo, path, mirror, cache, base_url)
    entry = manifest.entry(repo, path)
    return extract_zip(archive, cache_dir(cache) / "extracted" / entry.sha256[:16])


def resolve_member(repo: str, path: str, member: str, mirror: str | None = None, cache: str | None = None,
                   base_url: str = DEFAULT_BASE_URL) -> Path:
    """Local path of one file inside a pinned zip archive."""
    target = extracted(repo, path, mirror, cache, base_url) / member
    if not target.is_file():
        raise FetchError(f"{repo}/{path} has no member {member!r}")
    return target


def fetch(datasets=None, mirror: str | None = None, cache: str | None = None,
          base_url: str = DEFAULT_BASE_URL, log: Callable[[str], None] | None = None) -> list[Path]:
    """Make every file the datasets need available and verified (archives extracted); returns their paths."""
    entries = manifest.entries_for(datasets)
    paths = []
    for i, e in enumerate(entries, 1):
        p = resolve(e.repo, e.path, mirror, cache, base_url, log)
        if e.path.endswith(".zip"):
            extracted(e.repo, e.path, mirror, cache, base_url)
        if log:
            log(f"[{i}/{len(entries)}] ok {e.key} ({e.bytes} bytes)")
        paths.append(p)
    return paths
