"""dark.hub: torch.hub's downloads of weight files and its ``hubconf.py`` entry points.

``download_url_to_file`` fetches into ``<dst>.<random>.partial`` beside ``dst``, checks the
SHA256 prefix when one is given, and only then renames the file into place, so an
interrupted or corrupt download never leaves a file that looks complete.
``load_state_dict_from_url`` caches files in ``<get_dir()>/checkpoints`` and reads them with
``dark.load`` (torch.save's zip files, torchvision's weight files among them). The cache
folder is ``$DARK_HOME/hub``, ``$XDG_CACHE_HOME/dark/hub`` or ``~/.cache/dark/hub`` (as
torch's ``$TORCH_HOME/hub``), or what ``set_dir`` chose.

``load``/``list``/``help`` call the entry points of a folder's ``hubconf.py``
(``source='local'``) or of a GitHub repository's, downloaded as a zip archive into the cache
folder (``source='github'``; unlike torch, dark does not ask GitHub's API whether the ref
belongs to a fork, so ``skip_validation`` changes nothing). Without a network every download
raises a RuntimeError that says so and names the URL. ``pytorch/vision`` (at any ref) is not
downloaded: its hubconf needs torchvision, so its entry points are dark.data.models' builders
of the same names (``load('pytorch/vision', 'resnet18', weights='DEFAULT')``).
"""
from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import http.client
import importlib.util
import os
import re
import shutil
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .serialization import load as _load

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load",
           "load_state_dict_from_url", "set_dir"]

# matches bfd8deac from resnet18-bfd8deac.pth
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
ENV_DARK_HOME = "DARK_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
MODULE_HUBCONF = "hubconf.py"
VAR_DEPENDENCY = "dependencies"
READ_DATA_CHUNK = 128 * 1024
USER_AGENT = "dark.hub"
_TIMEOUT_S = 60
_GITHUB = "https://github.com"  # where GitHub archives come from (tests point it elsewhere)
_TRUSTED_REPO_OWNERS = ("facebookresearch", "facebookincubator", "pytorch", "fairinternal")
_hub_dir: str | None = None
# Repositories whose entry points dark provides itself: "owner/name" -> {entry: callable}
# (dark.data.models registers pytorch/vision when it is imported).
_BUILTIN_REPOS: dict[str, dict[str, Any]] = {}


def _get_dark_home() -> str:
    return os.path.expanduser(os.getenv(
        ENV_DARK_HOME, os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "dark")))


def get_dir() -> str:
    """The hub cache folder: the one ``set_dir`` chose, else ``$DARK_HOME/hub`` where
    ``$DARK_HOME`` defaults to ``$XDG_CACHE_HOME/dark`` (``~/.cache/dark``)."""
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_dark_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use folder ``d`` for downloaded repositories and weight files from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


class _OfflineError(RuntimeError):
    """A download that could not reach its server."""


def _offline(url: str, error: BaseException) -> RuntimeError:
    return _OfflineError(f"could not download {url}: {error}. It looks like there is no "
                         "network connection (or the server is down).")


def _network_error(error: BaseException) -> bool:
    """Errors that mean the server could not be reached (not an HTTP error answer)."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    return isinstance(error, (urllib.error.URLError, ConnectionError, socket.timeout,
                              http.client.HTTPException))


def download_url_to_file(url: str, dst: str | os.PathLike, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Download ``url`` to the file ``dst``.

    The bytes go to a fresh ``<dst>.<hex>.partial`` file that is moved to ``dst`` only once
    complete and, when ``hash_prefix`` is given, once the SHA256 of the bytes starts with it
    (else RuntimeError ``invalid hash value (expected "<prefix>", got "<digest>")``). A
    connection that ends before the announced Content-Length raises OSError. ``progress``
    shows a progress bar on stderr. HTTP errors (404, ...) propagate as urllib's HTTPError;
    a server that cannot be reached raises RuntimeError saying so."""
    dst = os.path.expanduser(os.fspath(dst))
    for _ in range(tempfile.TMP_MAX):
        tmp_dst = dst + "." + uuid.uuid4().hex + ".partial"
        try:
            f = open(tmp_dst, "x+b")  # noqa: SIM115 - closed in the finally below
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(errno.EEXIST, "No usable temporary file name found")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        try:
            response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
        except Exception as error:
            if _network_error(error):
                raise _offline(url, error) from error
            raise
        with response:
            file_size = response.length
            sha256 = hashlib.sha256() if hash_prefix is not None else None
            with tqdm(total=file_size, disable=not progress, unit="B", unit_scale=True,
                      unit_divisor=1024) as pbar:
                while buffer := response.read(READ_DATA_CHUNK):
                    f.write(buffer)
                    if sha256 is not None:
                        sha256.update(buffer)
                    pbar.update(len(buffer))
            if response.length:
                raise OSError(f"download of {url} ended early ({response.length} bytes "
                              "missing)")
        f.close()
        if sha256 is not None:
            digest = sha256.hexdigest()
            if digest[: len(hash_prefix)] != hash_prefix:
                raise RuntimeError(
                    f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        os.replace(f.name, dst)
    finally:
        f.close()
        if os.path.exists(f.name):
            os.remove(f.name)


def _is_legacy_zip_format(filename: str) -> bool:
    """A zip holding a single file (torch.save < 1.6 output zipped by hand), not a torch.save
    zip checkpoint (which holds several records)."""
    if zipfile.is_zipfile(filename):
        with zipfile.ZipFile(filename) as zf:
            infolist = zf.infolist()
        return len(infolist) == 1 and not infolist[0].is_dir()
    return False


def _safe_extract_zip(zip_file: zipfile.ZipFile, extract_to: str) -> None:
    """Extract every member, refusing absolute names and names that leave ``extract_to``."""
    root = Path(extract_to).resolve(strict=False)
    for member in zip_file.infolist():
        name = os.path.normpath(member.filename)
        if name.startswith(("/", "\\")) or (len(name) >= 2 and name[1] == ":"):
            raise ValueError(f"Archive entry has absolute path: {member.filename}")
        if ".." in re.split(r"[/\\]", name):
            raise ValueError(f"Archive entry contains directory traversal: {member.filename}")
        if not (root / name).resolve(strict=False).is_relative_to(root):
            raise ValueError(f"Archive entry escapes target directory: {member.filename}")
        zip_file.extract(member, root)


def load_state_dict_from_url(url: str, model_dir: str | os.PathLike | None = None,
                             map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name: str | None = None,
                             weights_only: bool = False) -> dict[str, Any]:
    """Load the object saved (by torch.save or dark.save) at ``url``, downloading it first
    into ``model_dir`` (default ``<get_dir()>/checkpoints``) unless a file of that name is
    already there. ``check_hash``: the file name must hold ``-<sha256 prefix>.`` (as
    ``resnet18-f37072fd.pth``) and the download must match it. ``file_name`` replaces the
    URL's last component. A zip holding one file is extracted and that file loaded (torch's
    legacy format, with torch's FutureWarning). ``map_location`` and ``weights_only`` go to
    ``dark.load``."""
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    model_dir = os.path.expanduser(os.fspath(model_dir))
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name if file_name is not None else \
        os.path.basename(urllib.parse.urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        hash_prefix = None
        if check_hash:
            match = HASH_REGEX.search(filename)
            hash_prefix = match.group(1) if match else None
        try:
            download_url_to_file(url, cached_file, hash_prefix, progress=progress)
        except _OfflineError as error:
            raise RuntimeError(f"{error} Download the file by other means and save it as "
                               f"{cached_file}: it is then read from there.") from error
    if _is_legacy_zip_format(cached_file):
        warnings.warn("Falling back to the old format < 1.6. This support will be deprecated in "
                      "favor of default zipfile format introduced in 1.6. Please redo "
                      "torch.save() to save it in the new zipfile format.", FutureWarning,
                      stacklevel=2)
        with zipfile.ZipFile(cached_file) as zf:
            _safe_extract_zip(zf, model_dir)
            cached_file = os.path.join(model_dir, zf.infolist()[0].filename)
    return _load(cached_file, map_location=map_location, weights_only=weights_only)


# --- hubconf.py entry points -------------------------------------------------------------

@contextlib.contextmanager
def _add_to_sys_path(path: str):
    sys.path.insert(0, path)
    try:
        yield
    finally:
        sys.path.remove(path)


def _import_hubconf(repo_dir: str):
    path = os.path.join(repo_dir, MODULE_HUBCONF)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no {MODULE_HUBCONF} in {repo_dir}")
    with _add_to_sys_path(repo_dir):
        spec = importlib.util.spec_from_file_location("hubconf", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def _load_entry_from_hubconf(module, model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    dependencies = getattr(module, VAR_DEPENDENCY, None)
    if dependencies is not None:
        missing = [pkg for pkg in dependencies if importlib.util.find_spec(pkg) is None]
        if missing:
            raise RuntimeError(f"Missing dependencies: {', '.join(missing)}")
    func = getattr(module, model, None) if model in dir(module) else None
    if func is None or not callable(func):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return func


def _parse_repo_info(github: str) -> tuple[str, str, str]:
    repo_info, _, ref = github.partition(":")
    try:
        repo_owner, repo_name = repo_info.split("/")
    except ValueError:
        raise ValueError(f"Invalid GitHub repository {github!r}: expected "
                         "'repo_owner/repo_name[:ref]'") from None
    if ref:
        return repo_owner, repo_name, ref
    # The default branch: main if it exists, else master (as torch.hub guesses it).
    try:
        with urllib.request.urlopen(f"{_GITHUB}/{repo_owner}/{repo_name}/tree/main/",
                                    timeout=_TIMEOUT_S):
            return repo_owner, repo_name, "main"
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return repo_owner, repo_name, "master"
        raise
    except Exception as error:
        if not _network_error(error):
            raise
        for possible_ref in ("main", "master"):
            if os.path.exists(os.path.join(get_dir(),
                                           f"{repo_owner}_{repo_name}_{possible_ref}")):
                return repo_owner, repo_name, possible_ref
        raise RuntimeError("It looks like there is no internet connection and the repo could "
                           f"not be found in the cache ({get_dir()})") from error


def _check_repo_is_trusted(repo_owner, repo_name, owner_name_branch, trust_repo) -> None:
    hub_dir = get_dir()
    filepath = os.path.join(hub_dir, "trusted_list")
    Path(filepath).touch()
    with open(filepath) as file:
        trusted_repos = tuple(line.strip() for line in file)
    trusted_repos_legacy = next(os.walk(hub_dir))[1]
    owner_name = "_".join([repo_owner, repo_name])
    is_trusted = (owner_name in trusted_repos or owner_name_branch in trusted_repos_legacy
                  or repo_owner in _TRUSTED_REPO_OWNERS)
    if trust_repo is False or (trust_repo == "check" and not is_trusted):
        response = input(
            f"The repository {owner_name} does not belong to the list of trusted repositories "
            "and as such cannot be downloaded. Do you trust this repository and wish to add it "
            "to the trusted list of repositories (y/N)?")
        if response.lower() in ("y", "yes"):
            if is_trusted:
                print("The repository is already trusted.")
        elif response.lower() in ("n", "no", ""):
            raise Exception("Untrusted repository.")  # noqa: TRY002 - torch's exception
        else:
            raise ValueError(f"Unrecognized response {response}.")
    if not is_trusted:
        with open(filepath, "a") as file:
            file.write(owner_name + "\n")


def _remove_if_exists(path: str) -> None:
    if os.path.isfile(path) or os.path.islink(path):
        os.remove(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def _get_cache_or_reload(github: str, force_reload: bool, trust_repo, verbose: bool = True
                         ) -> str:
    hub_dir = get_dir()
    os.makedirs(hub_dir, exist_ok=True)
    repo_owner, repo_name, ref = _parse_repo_info(github)
    normalized_br = ref.replace("/", "_")
    owner_name_branch = "_".join([repo_owner, repo_name, normalized_br])
    repo_dir = os.path.join(hub_dir, owner_name_branch)
    _check_repo_is_trusted(repo_owner, repo_name, owner_name_branch, trust_repo)
    if not force_reload and os.path.exists(repo_dir):
        if verbose:
            sys.stderr.write(f"Using cache found in {repo_dir}\n")
        return repo_dir
    cached_file = os.path.join(hub_dir, normalized_br + ".zip")
    _remove_if_exists(cached_file)
    url = f"{_GITHUB}/{repo_owner}/{repo_name}/zipball/{ref}"
    sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
    download_url_to_file(url, cached_file, progress=False)
    with zipfile.ZipFile(cached_file) as cached_zipfile:
        extracted_repo = os.path.join(hub_dir, cached_zipfile.infolist()[0].filename)
        _remove_if_exists(extracted_repo)
        _safe_extract_zip(cached_zipfile, hub_dir)
    _remove_if_exists(cached_file)
    _remove_if_exists(repo_dir)
    shutil.move(extracted_repo, repo_dir)
    return repo_dir


def _repo_dir(repo_or_dir: str, source: str, force_reload, trust_repo, verbose) -> str:
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        return _get_cache_or_reload(repo_or_dir, force_reload, trust_repo, verbose)
    return os.fspath(repo_or_dir)


def _builtin_entries(repo_or_dir, source: str) -> dict[str, Any] | None:
    """The entry points dark provides for a GitHub repository, or None."""
    if source.lower() != "github" or not isinstance(repo_or_dir, str):
        return None
    return _BUILTIN_REPOS.get(repo_or_dir.partition(":")[0])


def _builtin_entry(entries: dict[str, Any], model):
    if not isinstance(model, str):
        raise ValueError("Invalid input: model should be a string of function name")
    if model not in entries:
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return entries[model]


def list(github: str, force_reload: bool = False, skip_validation: bool = False,  # noqa: A001
         trust_repo="check", verbose: bool = True) -> builtins.list[str]:
    """The names of the callable entry points in the repository's ``hubconf.py``."""
    entries = _builtin_entries(github, "github")
    if entries is not None:
        return sorted(entries)
    module = _import_hubconf(_repo_dir(github, "github", force_reload, trust_repo, verbose))
    return [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_")]


def help(github: str, model: str, force_reload: bool = False,  # noqa: A001
         skip_validation: bool = False, trust_repo="check") -> str | None:
    """The docstring of entry point ``model`` of the repository's ``hubconf.py``."""
    entries = _builtin_entries(github, "github")
    if entries is not None:
        return _builtin_entry(entries, model).__doc__
    module = _import_hubconf(_repo_dir(github, "github", force_reload, trust_repo, True))
    return _load_entry_from_hubconf(module, model).__doc__


def load(repo_or_dir: str | os.PathLike, model: str, *args, source: str = "github",
         trust_repo="check", force_reload: bool = False, verbose: bool = True,
         skip_validation: bool = False, **kwargs):
    """Call entry point ``model`` of ``hubconf.py`` with ``*args, **kwargs`` and return what
    it returns. ``source='local'``: ``repo_or_dir`` is a folder holding ``hubconf.py``;
    ``source='github'`` (the default, as torch's): ``'owner/name[:ref]'``, downloaded into
    ``get_dir()`` once and then taken from there (``force_reload`` downloads it again);
    ``'pytorch/vision[:ref]'`` gives dark.data.models' builders without a download.
    The ``dependencies`` list of the hubconf must all be importable."""
    entries = _builtin_entries(repo_or_dir, source)
    if entries is not None:
        return _builtin_entry(entries, model)(*args, **kwargs)
    repo_dir = _repo_dir(repo_or_dir, source, force_reload, trust_repo, verbose)
    with _add_to_sys_path(repo_dir):
        entry = _load_entry_from_hubconf(_import_hubconf(repo_dir), model)
        return entry(*args, **kwargs)
