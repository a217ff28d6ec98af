"""Downloading and unpacking data set files (torchvision.datasets.utils' helpers).

Downloads are atomic: a file is fetched into ``<name>.part`` beside its final place, its MD5
is checked, and only then is it renamed (``os.replace``) to ``<name>``. An interrupted or
corrupt download therefore never leaves a file that looks complete, and a file that is
already there with the right MD5 is never fetched again. Archives are extracted only after
every member has been checked to stay inside the target folder.
"""
from __future__ import annotations

import bz2
import gzip
import hashlib
import http.client
import lzma
import os
import pathlib
import shutil
import tarfile
import urllib.request
import zipfile
from collections.abc import Sequence

from tqdm import tqdm

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url",
           "download_from_mirrors", "extract_archive", "download_and_extract_archive"]

USER_AGENT = "dark"
_CHUNK_SIZE = 1024 * 1024
_TIMEOUT_S = 60


def calculate_md5(fpath: str | os.PathLike, chunk_size: int = _CHUNK_SIZE) -> str:
    """The hex MD5 digest of the file's bytes."""
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath: str | os.PathLike, md5: str, **kwargs) -> bool:
    """Whether the file's MD5 is ``md5``."""
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath: str | os.PathLike, md5: str | None = None) -> bool:
    """Whether ``fpath`` is a file and, when ``md5`` is given, has that MD5."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or check_md5(fpath, md5)


def _fetch(url: str, destination: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, \
            open(destination, "wb") as out, \
            tqdm(total=response.length, unit="B", unit_scale=True, unit_divisor=1024,
                 desc=os.path.basename(url), leave=False) as progress:
        while chunk := response.read(_CHUNK_SIZE):
            out.write(chunk)
            progress.update(len(chunk))
        if response.length:
            # Content-Length left over means the connection closed early.
            raise OSError(f"download of {url} ended early ({response.length} bytes missing)")


def download_url(url: str, root: str | os.PathLike, filename: str | None = None,
                 md5: str | None = None) -> str:
    """Download ``url`` to ``root/filename`` (the URL's last component by default) and
    return that path, printing ``Downloading <url> to <path>`` and a progress bar (as
    torchvision does). Nothing is fetched when the file is already there with the right
    ``md5`` (or, without ``md5``, when it is there at all). The bytes go to
    ``<filename>.part`` first and are renamed only once complete and verified; on any
    failure the ``.part`` file is removed and the error re-raised (an MD5 mismatch raises
    RuntimeError naming both digests)."""
    root = os.path.expanduser(os.fspath(root))
    filename = filename or os.path.basename(url)
    fpath = os.path.join(root, filename)
    if check_integrity(fpath, md5):
        return fpath
    os.makedirs(root, exist_ok=True)
    partial = fpath + ".part"
    print(f"Downloading {url} to {fpath}", flush=True)
    try:
        _fetch(url, partial)
        if md5 is not None:
            got = calculate_md5(partial)
            if got != md5:
                raise RuntimeError(f"checksum mismatch for {url}: MD5 {got}, expected {md5}")
        os.replace(partial, fpath)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return fpath


def download_from_mirrors(mirrors: Sequence[str], filename: str, root: str | os.PathLike,
                          md5: str | None = None) -> str:
    """Download ``filename`` into ``root`` from the first of ``mirrors`` (URL prefixes) that
    serves it with the right ``md5``; a mirror that is down or serves other bytes is
    skipped. Raises RuntimeError listing every failure when no mirror works."""
    failures = []
    for mirror in mirrors:
        url = f"{mirror}{filename}"
        try:
            return download_url(url, root, filename, md5)
        except (OSError, http.client.HTTPException, RuntimeError) as error:
            failures.append(f"  {url}: {error}")
    raise RuntimeError(f"Error downloading {filename}; every mirror failed:\n"
                       + "\n".join(failures))


def _inside(folder: str, name: str) -> bool:
    target = os.path.realpath(os.path.join(folder, name))
    return os.path.commonpath([folder, target]) == folder


def _check_members(archive: str, folder: str, members) -> None:
    """Refuses archives that would write outside ``folder`` (absolute names, '..', links,
    device files)."""
    for name, is_safe_kind in members:
        if not is_safe_kind:
            raise RuntimeError(f"refusing to extract {archive}: member {name!r} is a link or "
                               "a special file")
        if os.path.isabs(name) or not _inside(folder, name):
            raise RuntimeError(f"refusing to extract {archive}: member {name!r} would be "
                               f"written outside {folder}")


def _extract_tar(archive: str, folder: str, compression: str | None) -> None:
    with tarfile.open(archive, f"r:{compression}" if compression else "r:") as tar:
        members = tar.getmembers()
        _check_members(archive, folder,
                       [(m.name, m.isfile() or m.isdir()) for m in members])
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, members, filter="data")
        else:
            tar.extractall(folder, members)


def _extract_zip(archive: str, folder: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        _check_members(archive, folder, [(info.filename, True) for info in zf.infolist()])
        zf.extractall(folder)


_OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}
_TAR_SUFFIXES = {".tar": None, ".tgz": "gz", ".tar.gz": "gz", ".tbz": "bz2",
                 ".tbz2": "bz2", ".tar.bz2": "bz2", ".txz": "xz", ".tar.xz": "xz"}


def extract_archive(from_path: str | os.PathLike, to_path: str | os.PathLike | None = None,
                    remove_finished: bool = False) -> str:
    """Extract a .tar(.gz/.bz2/.xz) or .zip archive into ``to_path`` (the archive's folder
    by default), or decompress a single .gz/.bz2/.xz file there (atomically, through a
    ``.part`` file). The kind is told by the name's suffix. Returns ``to_path``."""
    from_path = os.fspath(from_path)
    folder = os.path.realpath(os.fspath(to_path) if to_path is not None
                              else os.path.dirname(from_path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(from_path)
    suffixes = "".join(pathlib.Path(name).suffixes[-2:])
    last = pathlib.Path(name).suffix
    if suffixes in _TAR_SUFFIXES or last in _TAR_SUFFIXES:
        _extract_tar(from_path, folder, _TAR_SUFFIXES.get(suffixes, _TAR_SUFFIXES.get(last)))
    elif last == ".zip":
        _extract_zip(from_path, folder)
    elif last[1:] in _OPENERS:
        target = os.path.join(folder, name[: -len(last)])
        partial = target + ".part"
        try:
            with _OPENERS[last[1:]](from_path, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK_SIZE)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
    else:
        raise RuntimeError(f"Unknown compression or archive type of {from_path!r}; known "
                           f"suffixes: {sorted({*_TAR_SUFFIXES, '.zip', '.gz', '.bz2', '.xz'})}")
    if remove_finished:
        os.remove(from_path)
    return folder


def download_and_extract_archive(url: str, download_root: str | os.PathLike,
                                 extract_root: str | os.PathLike | None = None,
                                 filename: str | None = None, md5: str | None = None,
                                 remove_finished: bool = False) -> None:
    """``download_url`` into ``download_root`` then ``extract_archive`` into
    ``extract_root`` (``download_root`` by default)."""
    download_root = os.path.expanduser(os.fspath(download_root))
    archive = download_url(url, download_root, filename, md5)
    extract_archive(archive, extract_root if extract_root is not None else download_root,
                    remove_finished)
