"""The files a config names, pinned: made absolute, checked to exist, and known by their content.

A `file:<path>` context and a `features:<path>` image source are the user's own files. A run may read them in
another working folder (a Ray trial) or on another machine, so their paths are made absolute against the folder
where the command was typed (relative, as docs/contexts.md writes them). Their content's sha256 goes into the
config (`data.context_sha256`, `data.image_sha256`) and, in place of the path, into the run's identity
(Config.hash): an edited file is new work, while the same file under another machine's path is the same run.
`verify` is the run's side: a file that changed after its run was planned is refused, not trained on.

The image folder of `encoder:<name>` (`data.image_dir`), the data mirror and the cache are made absolute too; the
folders are not hashed (thousands of images), so the image folder's path stays in the identity.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from shapca.config import PINNED_FILES, Config, ConfigError

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def absolute(path: str, base: Path) -> str:
    """`path` against `base` (a URI or an empty value as it is)."""
    if not path or "://" in path:
        return path
    return str((base / Path(path).expanduser()).resolve())


def pin(cfg: Config, base: Path | None = None, digests: dict | None = None) -> Config:
    """`cfg` with its files pinned, in place: paths absolute against `base` (default: the working folder), each
    named file checked to exist and its content's sha256 recorded (where one is recorded already: checked).
    `digests` (absolute path -> sha256) lets the trials of one plan read each file once."""
    base = base or Path.cwd()
    d = cfg.data
    for key, (prefix, digest_key) in PINNED_FILES.items():
        value = getattr(d, key)
        if not value.startswith(prefix):
            continue
        given = value[len(prefix):]
        path = absolute(given, base)
        if not Path(path).is_file():
            relative = "" if Path(given).expanduser().is_absolute() else f" (a relative path is read from {base})"
            raise ConfigError(f"data.{key}={value}: no such file {path}{relative}")
        found = digests.get(path) if digests is not None else None
        if found is None:
            found = sha256_of(Path(path))
            if digests is not None:
                digests[path] = found
        recorded = getattr(d, digest_key)
        if recorded and recorded != found:
            raise ConfigError(f"data.{key}={value}: {path} changed since its run was planned (sha256 {found[:12]}, "
                              f"planned {recorded[:12]}); plan the study again to train on the new content")
        setattr(d, key, prefix + path)
        setattr(d, digest_key, found)
    d.image_dir, d.mirror, d.cache = absolute(d.image_dir, base), absolute(d.mirror, base), absolute(d.cache, base)
    return cfg


def verify(cfg: Config) -> None:
    """Refuses a pinned file whose content is not what its run was planned with (the run's side of `pin`); a
    config whose files were never pinned (a direct run of the core) is left as it is."""
    if any(getattr(cfg.data, digest_key) for _, digest_key in PINNED_FILES.values()):
        pin(cfg)
