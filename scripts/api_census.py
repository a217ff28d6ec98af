"""Which torch / torchvision names a folder of PyTorch programs uses, and which of them dark has.

    python scripts/api_census.py DIR [DIR ...] [--json OUT] [--top N] [--dark CHECKOUT]

Reads every ``*.py`` file under the folders with Python's ``ast`` (nothing is run), resolves
the import aliases (``import torch.nn as nn``, ``from torch import optim``,
``from torchvision import transforms as T``, ``import torch.nn.functional as F`` ...), and
collects

* every dotted name reached from torch or torchvision (``torch.nn.functional.relu``,
  ``torchvision.transforms.Compose``), the chain of attributes as written, up to the first
  call or subscript;
* every method called on a value that is not a module alias (``x.view(...)``) whose name is a
  ``torch.Tensor`` attribute (when torch is importable; otherwise every such call is kept and
  reported as a method name).

A name "exists in dark" when its port (``torch`` -> ``dark``, ``torchvision`` -> ``dark.data``)
resolves: each prefix is imported as a module or reached by ``getattr``. The report counts the
files that use each missing name, most used first. ``--dark CHECKOUT`` asks an other checkout of
dark (a ``git worktree`` at an older commit: the census before a change) instead of the
installed one.
"""
from __future__ import annotations

import argparse
import ast
import collections
import importlib
import json
import pathlib
import sys

ROOTS = {"torch": "dark", "torchvision": "dark.data"}


def _port(name: str) -> str:
    head, _, rest = name.partition(".")
    return ROOTS[head] + ("." + rest if rest else "")


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` names something: the longest importable module prefix, then
    attributes."""
    parts = dotted.split(".")
    obj, i = None, len(parts)
    while i > 0:
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except Exception:  # not a module (or it fails to import): try a shorter prefix
            i -= 1
    if obj is None:
        return False
    for attr in parts[i:]:
        try:
            obj = getattr(obj, attr)
        except Exception:
            return False
    return True


class _Visitor(ast.NodeVisitor):
    def __init__(self):
        self.alias: dict[str, str] = {}
        self.names: set[str] = set()
        self.methods: set[str] = set()

    # imports -----------------------------------------------------------------------------
    def visit_Import(self, node):
        for a in node.names:
            if a.name.split(".")[0] in ROOTS:
                if a.asname:
                    self.alias[a.asname] = a.name
                else:
                    self.alias[a.name.split(".")[0]] = a.name.split(".")[0]
                self.names.add(a.name)

    def visit_ImportFrom(self, node):
        if node.level or not node.module or node.module.split(".")[0] not in ROOTS:
            return
        for a in node.names:
            if a.name == "*":
                continue
            full = f"{node.module}.{a.name}"
            self.alias[a.asname or a.name] = full
            self.names.add(full)

    # uses --------------------------------------------------------------------------------
    def _chain(self, node):
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in self.alias:
            return ".".join([self.alias[node.id], *reversed(attrs)])
        return None

    def visit_Attribute(self, node):
        chain = self._chain(node)
        if chain is not None:
            self.names.add(chain)
            return  # the inner attributes are prefixes of this chain
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in self.alias:
            self.names.add(self.alias[node.id])

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Attribute) and self._chain(func) is None:
            self.methods.add(func.attr)
        self.generic_visit(node)


def scan(paths):
    """{name: set of files}, {method: set of files}, number of files read."""
    names, methods = collections.defaultdict(set), collections.defaultdict(set)
    count = 0
    for root in paths:
        root = pathlib.Path(root)
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except SyntaxError:
                continue
            visitor = _Visitor()
            visitor.visit(tree)
            if not visitor.alias:
                continue  # not a PyTorch program
            count += 1
            for n in visitor.names:
                names[n].add(str(path))
            for m in visitor.methods:
                methods[m].add(str(path))
    return names, methods, count


def _tensor_attributes():
    try:
        import torch
    except ImportError:
        return None
    return set(dir(torch.Tensor))


def census(paths):
    names, methods, count = scan(paths)
    tensor_attrs = _tensor_attributes()
    if tensor_attrs is not None:
        methods = {m: f for m, f in methods.items() if m in tensor_attrs}
        # a torch name must exist in torch (drops attribute chains that run past a name, e.g.
        # a module attribute read off a returned object)
        names = {n: f for n, f in names.items() if not n.startswith("torch.") or resolves(n)}
    import dark

    have = {n: resolves(_port(n)) for n in names}
    have_methods = {m: hasattr(dark.Tensor, m) for m in methods}
    return {
        "files": count,
        "names_used": len(names),
        "names_in_dark": sum(have.values()),
        "methods_used": len(methods),
        "methods_in_dark": sum(have_methods.values()),
        "missing_names": sorted(((n, len(f)) for n, f in names.items() if not have[n]),
                                key=lambda t: (-t[1], t[0])),
        "missing_methods": sorted(((m, len(f)) for m, f in methods.items()
                                   if not have_methods[m]), key=lambda t: (-t[1], t[0])),
    }


def use_checkout(path) -> None:
    """Makes ``import dark`` read the checkout at ``path``: it goes first on ``sys.path``, and
    the finders of an editable install (which would hand out the installed dark's submodules
    that the checkout lacks) are removed."""
    root = pathlib.Path(path).resolve()
    if not (root / "dark" / "__init__.py").is_file():
        raise FileNotFoundError(f"no dark package in {root} (expected {root / 'dark'})")
    if any(m == "dark" or m.startswith("dark.") for m in sys.modules):
        raise RuntimeError("dark is imported already: use_checkout must come first")
    sys.meta_path[:] = [f for f in sys.meta_path
                        if "editable" not in f"{getattr(f, '__module__', '')} {f!r}".lower()]
    sys.path.insert(0, str(root))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", help="folders (or files) of PyTorch programs")
    parser.add_argument("--json", help="also write the full result to this file")
    parser.add_argument("--top", type=int, default=60, help="missing names to print")
    parser.add_argument("--dark", metavar="CHECKOUT",
                        help="census this checkout of dark (a folder holding dark/) instead of "
                             "the installed one")
    args = parser.parse_args(argv)
    if args.dark:
        use_checkout(args.dark)
    for d in args.dirs:
        if not pathlib.Path(d).exists():
            parser.error(f"no such file or folder: {d}")
    result = census(args.dirs)
    print(f"files: {result['files']}")
    print(f"torch/torchvision names used: {result['names_used']}, in dark: "
          f"{result['names_in_dark']}")
    print(f"Tensor methods used: {result['methods_used']}, in dark: "
          f"{result['methods_in_dark']}")
    print(f"\nmissing names (files using them), top {args.top}:")
    for n, k in result["missing_names"][: args.top]:
        print(f"  {k:4d}  {n}")
    print("\nmissing Tensor methods:")
    for m, k in result["missing_methods"]:
        print(f"  {k:4d}  {m}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
