"""dark.hub (torch.hub) and dark.utils.model_zoo, against a local HTTP server (conftest's
``server``) and a closed port (harness' ``closed_port_url``, as offline): the cache folder,
atomic downloads with the SHA256 prefix check (messages as torch's), the cached
``load_state_dict_from_url``, and ``load``/``list``/``help`` of hubconf.py entry points from a
folder or a GitHub archive."""
from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import zipfile

import numpy as np
import pytest
from harness import closed_port_url, torch

import dark
from dark import hub


@pytest.fixture(autouse=True)
def _fresh_hub_dir(monkeypatch):
    """Each test starts without a set_dir choice and without DARK_HOME / XDG_CACHE_HOME."""
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.delenv("DARK_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def test_get_dir_and_set_dir(tmp_path, monkeypatch):
    assert hub.get_dir() == os.path.expanduser(os.path.join("~", ".cache", "dark", "hub"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "xdg" / "dark" / "hub")
    monkeypatch.setenv("DARK_HOME", str(tmp_path / "home"))
    assert hub.get_dir() == str(tmp_path / "home" / "hub")
    hub.set_dir(tmp_path / "chosen")
    assert hub.get_dir() == str(tmp_path / "chosen")
    hub.set_dir("~/somewhere")
    assert hub.get_dir() == os.path.expanduser("~/somewhere")


def _serve(tmp_path, name: str, data: bytes) -> str:
    (tmp_path / "www" / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_url_to_file(tmp_path, server):
    base, requests = server
    data = bytes(range(256)) * 1000
    digest = _serve(tmp_path, "blob.bin", data)
    out = tmp_path / "out"
    out.mkdir()
    hub.download_url_to_file(f"{base}/blob.bin", out / "a.bin", progress=False)
    assert (out / "a.bin").read_bytes() == data
    hub.download_url_to_file(f"{base}/blob.bin", str(out / "b.bin"), hash_prefix=digest[:10],
                             progress=False)
    assert (out / "b.bin").read_bytes() == data
    assert requests == ["/blob.bin", "/blob.bin"]
    assert _leftovers(out) == ["a.bin", "b.bin"]


def test_download_hash_mismatch_leaves_nothing(tmp_path, server):
    base, _ = server
    digest = _serve(tmp_path, "blob.bin", b"payload")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError) as caught:
        hub.download_url_to_file(f"{base}/blob.bin", out / "x.bin", hash_prefix="abc123",
                                 progress=False)
    assert str(caught.value) == f'invalid hash value (expected "abc123", got "{digest}")'
    assert _leftovers(out) == []


@pytest.mark.skipif(torch is None, reason="torch not installed: parity check")
def test_download_hash_mismatch_message_is_torchs(tmp_path, server):
    base, _ = server
    _serve(tmp_path, "blob.bin", b"payload")
    with pytest.raises(RuntimeError) as expected:
        torch.hub.download_url_to_file(f"{base}/blob.bin", str(tmp_path / "t.bin"),
                                       hash_prefix="abc123", progress=False)
    with pytest.raises(RuntimeError) as got:
        hub.download_url_to_file(f"{base}/blob.bin", tmp_path / "d.bin", hash_prefix="abc123",
                                 progress=False)
    assert str(got.value) == str(expected.value)


def test_download_failures(tmp_path, server):
    base, _ = server
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OSError, match="ended early"):  # Content-Length not delivered
        hub.download_url_to_file(f"{base}/short/x.bin", out / "x.bin", progress=False)
    with pytest.raises(urllib.error.HTTPError, match="404"):
        hub.download_url_to_file(f"{base}/missing.bin", out / "x.bin", progress=False)
    dead = closed_port_url() + "x.bin"
    with pytest.raises(RuntimeError, match="no network connection") as caught:
        hub.download_url_to_file(dead, out / "x.bin", progress=False)
    assert dead in str(caught.value)
    assert _leftovers(out) == []
    # A file already at the destination survives a failed download.
    (out / "x.bin").write_bytes(b"good")
    with pytest.raises(RuntimeError):
        hub.download_url_to_file(dead, out / "x.bin", progress=False)
    assert (out / "x.bin").read_bytes() == b"good"


def _state() -> dict:
    dark.manual_seed(0)
    return dark.nn.Linear(3, 2).state_dict()


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_load_state_dict_from_url_caches(tmp_path, server, capsys):
    base, requests = server
    state = _state()
    dark.save(state, tmp_path / "tmp.pth")
    digest = hashlib.sha256((tmp_path / "tmp.pth").read_bytes()).hexdigest()
    name = f"linear-{digest[:8]}.pth"
    _serve(tmp_path, name, (tmp_path / "tmp.pth").read_bytes())
    hub.set_dir(tmp_path / "hub")
    got = hub.load_state_dict_from_url(f"{base}/{name}", check_hash=True, progress=False)
    assert _same(got, state)
    cached = tmp_path / "hub" / "checkpoints" / name
    assert cached.is_file()
    assert f'Downloading: "{base}/{name}" to {cached}' in capsys.readouterr().out
    assert _same(hub.load_state_dict_from_url(f"{base}/{name}", progress=False), state)
    assert requests == [f"/{name}"]  # the second call read the cache
    # model_dir and file_name choose where it goes.
    other = hub.load_state_dict_from_url(f"{base}/{name}", model_dir=tmp_path / "mine",
                                         file_name="renamed.pth", progress=False)
    assert _same(other, state) and (tmp_path / "mine" / "renamed.pth").is_file()
    assert dark.utils.model_zoo.load_url is hub.load_state_dict_from_url


def test_load_state_dict_from_url_checks_the_name_hash(tmp_path, server):
    base, _ = server
    dark.save(_state(), tmp_path / "tmp.pth")
    _serve(tmp_path, "linear-deadbeef.pth", (tmp_path / "tmp.pth").read_bytes())
    with pytest.raises(RuntimeError, match='invalid hash value \\(expected "deadbeef"'):
        hub.load_state_dict_from_url(f"{base}/linear-deadbeef.pth", model_dir=tmp_path / "c",
                                     check_hash=True, progress=False)
    assert _leftovers(tmp_path / "c") == []
    # Without check_hash the name's hash is not looked at.
    hub.load_state_dict_from_url(f"{base}/linear-deadbeef.pth", model_dir=tmp_path / "c",
                                 progress=False)


def test_load_state_dict_from_url_offline(tmp_path):
    dead = closed_port_url() + "resnet18-f37072fd.pth"
    with pytest.raises(RuntimeError, match="no network connection") as caught:
        hub.load_state_dict_from_url(dead, model_dir=tmp_path / "c", progress=False)
    assert dead in str(caught.value)
    assert f"save it as {tmp_path / 'c' / 'resnet18-f37072fd.pth'}" in str(caught.value)
    assert _leftovers(tmp_path / "c") == []


def test_load_state_dict_from_url_legacy_zip(tmp_path, server):
    """A zip holding one saved file (torch < 1.6 files zipped by hand) is extracted and read,
    with torch's FutureWarning."""
    base, _ = server
    state = _state()
    dark.save(state, tmp_path / "inner.pth", _use_new_zipfile_serialization=False)
    with zipfile.ZipFile(tmp_path / "www" / "old.zip", "w") as zf:
        zf.write(tmp_path / "inner.pth", "inner.pth")
    with pytest.warns(FutureWarning, match="Falling back to the old format < 1.6"):
        got = hub.load_state_dict_from_url(f"{base}/old.zip", model_dir=tmp_path / "c",
                                           progress=False)
    assert _same(got, state)
    assert (tmp_path / "c" / "inner.pth").is_file()


@pytest.mark.skipif(torch is None, reason="torch not installed: torch.save file")
def test_load_state_dict_from_url_reads_torch_save(tmp_path, server):
    base, _ = server
    torch.manual_seed(0)
    state = torch.nn.Linear(3, 2).state_dict()
    torch.save(state, tmp_path / "www" / "t.pth")
    got = hub.load_state_dict_from_url(f"{base}/t.pth", model_dir=tmp_path / "c",
                                       map_location="cpu", progress=False)
    assert list(got) == list(state)
    for key in state:
        assert np.array_equal(got[key].numpy(), state[key].numpy())


HUBCONF = '''
"""A test hub."""
import helper_module_of_the_hub as helper

dependencies = ["numpy"]


def entry(x, scale=1):
    """Scales x."""
    return helper.twice(x) * scale


def _private():
    return 0


not_callable = 3
'''


def _write_hub(folder, dependencies=None):
    folder.mkdir(parents=True, exist_ok=True)
    text = HUBCONF if dependencies is None else HUBCONF.replace(
        'dependencies = ["numpy"]', f"dependencies = {dependencies!r}")
    (folder / "hubconf.py").write_text(text)
    (folder / "helper_module_of_the_hub.py").write_text("def twice(x):\n    return 2 * x\n")


def test_load_local(tmp_path):
    _write_hub(tmp_path / "repo")
    assert hub.load(tmp_path / "repo", "entry", 3, scale=5, source="local") == 30
    assert str(tmp_path / "repo") not in sys.path  # the folder left sys.path again
    with pytest.raises(RuntimeError, match="Cannot find callable nope in hubconf"):
        hub.load(str(tmp_path / "repo"), "nope", source="local")
    with pytest.raises(RuntimeError, match="Cannot find callable not_callable in hubconf"):
        hub.load(str(tmp_path / "repo"), "not_callable", source="local")
    with pytest.raises(ValueError, match='Unknown source: "svn"'):
        hub.load(str(tmp_path / "repo"), "entry", source="svn")
    _write_hub(tmp_path / "needy", dependencies=["numpy", "no_such_package_here"])
    with pytest.raises(RuntimeError, match="Missing dependencies: no_such_package_here"):
        hub.load(str(tmp_path / "needy"), "entry", 1, source="local")


def _github_archive(tmp_path, owner: str, repo: str, ref: str) -> None:
    """Serve owner/repo at ref as GitHub does: /owner/repo/zipball/ref, a zip whose members
    sit in one top folder; /owner/repo/tree/main/ exists when ref is main."""
    src = tmp_path / "src" / f"{owner}-{repo}-abc123"
    _write_hub(src)
    target = tmp_path / "www" / owner / repo / "zipball"
    target.mkdir(parents=True)
    with zipfile.ZipFile(target / ref, "w") as zf:
        zf.write(src, f"{src.name}/")
        for path in sorted(src.iterdir()):
            zf.write(path, f"{src.name}/{path.name}")
    if ref == "main":
        (tmp_path / "www" / owner / repo / "tree" / "main").mkdir(parents=True)


def test_load_github(tmp_path, server, monkeypatch, capsys):
    base, requests = server
    monkeypatch.setattr(hub, "_GITHUB", base)
    hub.set_dir(tmp_path / "hub")
    _github_archive(tmp_path, "someone", "models", "main")
    # An owner not in the trusted list is refused unless the user says yes.
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(Exception, match="Untrusted repository"):
        hub.load("someone/models", "entry", 1)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert hub.load("someone/models", "entry", 2, scale=3) == 12
    repo_dir = tmp_path / "hub" / "someone_models_main"
    assert (repo_dir / "hubconf.py").is_file()
    assert "someone_models" in (tmp_path / "hub" / "trusted_list").read_text().split()
    assert "/someone/models/zipball/main" in requests
    # Now trusted and cached: no prompt, no download.
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked again"))
    count = len([r for r in requests if "zipball" in r])
    assert hub.load("someone/models:main", "entry", 1, verbose=True) == 2
    assert "Using cache found in" in capsys.readouterr().err
    assert len([r for r in requests if "zipball" in r]) == count
    assert hub.list("someone/models:main") == ["entry"]
    assert hub.help("someone/models:main", "entry") == "Scales x."
    # force_reload downloads again.
    hub.load("someone/models:main", "entry", 1, force_reload=True)
    assert len([r for r in requests if "zipball" in r]) == count + 1


def test_load_github_default_branch_is_master_without_main(tmp_path, server, monkeypatch):
    base, _ = server
    monkeypatch.setattr(hub, "_GITHUB", base)
    hub.set_dir(tmp_path / "hub")
    _github_archive(tmp_path, "someone", "old", "master")
    assert hub.load("someone/old", "entry", 1, trust_repo=True) == 2
    assert (tmp_path / "hub" / "someone_old_master" / "hubconf.py").is_file()


def test_load_github_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "_GITHUB", closed_port_url().rstrip("/").rsplit("/", 1)[0])
    hub.set_dir(tmp_path / "hub")
    with pytest.raises(RuntimeError, match="no internet connection and the repo could not be "
                                           "found in the cache"):
        hub.load("someone/models", "entry", 1, trust_repo=True)
    with pytest.raises(RuntimeError, match="no network connection"):
        hub.load("someone/models:v1", "entry", 1, trust_repo=True)
    # A repository already in the cache is used offline.
    _write_hub(tmp_path / "hub" / "someone_models_main")
    assert hub.load("someone/models", "entry", 4, trust_repo=True) == 8


def test_pytorch_vision_entries_are_dark_models(tmp_path, monkeypatch):
    """torch.hub.load('pytorch/vision', 'resnet18', ...) as tutorials write it: the entry
    points are dark.data.models' builders; nothing is downloaded (here: no network)."""
    monkeypatch.setattr(hub, "_GITHUB", closed_port_url().rstrip("/").rsplit("/", 1)[0])
    hub.set_dir(tmp_path / "hub")
    dark.manual_seed(0)
    with pytest.warns(UserWarning, match="The parameter 'pretrained' is deprecated"):
        model = hub.load("pytorch/vision:v0.10.0", "resnet18", pretrained=False)
    dark.manual_seed(0)
    reference = dark.data.models.resnet18()
    assert isinstance(model, dark.data.models.ResNet)
    assert _same(model.state_dict(), reference.state_dict())
    assert {"resnet18", "vgg16", "densenet121", "get_weight"} <= set(hub.list("pytorch/vision"))
    assert hub.help("pytorch/vision", "squeezenet1_1") == dark.data.models.squeezenet1_1.__doc__
    assert hub.load("pytorch/vision", "get_weight", "ResNet18_Weights.DEFAULT") is \
        dark.data.models.ResNet18_Weights.IMAGENET1K_V1
    with pytest.raises(RuntimeError, match="Cannot find callable resnet9 in hubconf"):
        hub.load("pytorch/vision", "resnet9")
    assert not (tmp_path / "hub").exists()
