"""The autograd basics in dark, written as in PyTorch (swap `dark` for `torch` and it runs
the same): gradient descent on 2*x**2 + 5, a small graph's gradients, and accumulation."""
import dark


def descend() -> None:
    x = dark.tensor([10.0], requires_grad=True)
    for _ in range(100):
        fx = dark.add(dark.mul(2, dark.pow(x, 2)), 5)
        fx.backward()
        x.data.sub_(0.1 * x.grad)
        x.grad.zero_()
    print("minimum of 2*x**2 + 5 found at x =", x.item())


def small_graph() -> None:
    p1, p2_1, p2_2, p3 = (dark.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0, 1.5))
    x = 3
    o1 = (p1 * x) ** 2 + 1
    o2_1 = (p2_1 * o1) ** 0.5 - 4
    o2_2 = (p2_2 * o1).sin()
    o3 = (p3 * (o2_1 + 2 * o2_2) + 9) ** 0.3
    y = 8 * o3
    y.backward()
    print("gradients:", [round(p.grad.item(), 4) for p in (p1, p2_1, p2_2, p3)])


def accumulate() -> None:
    x = dark.tensor(1.0, requires_grad=True)
    (x ** 2).backward()
    (x ** 3).backward()
    print("accumulated gradient 2 + 3 =", x.grad.item())
    x.grad = None
    print("after reset:", x.grad)


if __name__ == "__main__":
    descend()
    small_graph()
    accumulate()
