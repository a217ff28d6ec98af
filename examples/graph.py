"""See the graph: the backward graph of 2*x**2 + 5 at x = 10 with each node's value and
gradient (graph.png), its step-by-step table, and the graph of a small MLP's loss with the
parameter names (mlp_graph.png).

    python examples/graph.py [--out DIR]

Drawing needs Graphviz's `dot` program (https://graphviz.org/download/); the `graphviz`
Python package (`pip install dark[viz]`) is optional. Without `dot` the .dot files are
written instead.
"""
import argparse
import os
import shutil

import dark
from dark.viz import make_dot, record, trace


def save(graph, path: str) -> None:
    """Render ``graph`` to ``path``.png, or write ``path``.dot when ``dot`` is missing."""
    if shutil.which("dot") is None:
        with open(path + ".dot", "w", encoding="utf-8") as f:
            f.write(graph.source)
        print(f"wrote {path}.dot (Graphviz's `dot` is not installed: render it with "
              f"`dot -Tpng {path}.dot -o {path}.png`)")
        return
    print("wrote", graph.render(path, format="png", cleanup=True))


def quadratic(out_dir: str) -> None:
    x = dark.tensor(10.0, requires_grad=True)
    with record():  # keep every node's value, and its gradient in the backward below
        y = 2 * x ** 2 + 5
    y.backward()
    save(make_dot(y, params={"x": x}, show_values=True, show_grads=True),
         os.path.join(out_dir, "graph"))
    print("\nstep by step, y = 2*x**2 + 5 at x = 10:")
    trace(lambda x: 2 * x ** 2 + 5, 10.0)


def mlp(out_dir: str) -> None:
    dark.manual_seed(0)
    model = dark.nn.Sequential(dark.nn.Linear(4, 8), dark.nn.ReLU(), dark.nn.Linear(8, 3))
    inputs, targets = dark.randn(5, 4), dark.tensor([0, 2, 1, 1, 0])
    loss = dark.nn.CrossEntropyLoss()(model(inputs), targets)
    save(make_dot(loss, params=dict(model.named_parameters())),
         os.path.join(out_dir, "mlp_graph"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="folder for the pictures")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    quadratic(args.out)
    mlp(args.out)


if __name__ == "__main__":
    main()
