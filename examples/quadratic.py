"""Gradient descent on f(x) = 2x^2 + 5 from x = 10, as one writes it in PyTorch: the
gradient 4x drives x to the minimum at 0 (each step multiplies x by 1 - 0.1 * 4 = 0.6).

    python examples/quadratic.py [--steps 50] [--lr 0.1]"""
import argparse

import dark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    x = dark.tensor([10.0], requires_grad=True)
    for step in range(1, args.steps + 1):
        fx = 2 * x ** 2 + 5
        fx.backward()
        x.data.sub_(args.lr * x.grad)
        x.grad.zero_()
        if step <= 5 or step % 10 == 0:
            print(f"step {step:3d}: f(x) = {fx.item():10.6f}, x = {x.item():.6g}")
    print(f"final x = {x.item():.6g} (the minimum of 2x^2 + 5 is at x = 0)")


if __name__ == "__main__":
    main()
