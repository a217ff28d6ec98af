"""The autograd core: backward / grad and their options, hooks, user Functions, grad modes,
gradcheck, anomaly detection, higher-order gradients, deep graphs, memory and the errors.
Each program runs on dark and, where it says so, on torch for comparison."""
import gc
import sys
import threading
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest
from harness import LIBS, requires_torch, same_error, torch

import dark


def values(t):
    return np.asarray(t.detach().cpu().numpy(), dtype=np.float64)


def close(a, b, atol=1e-5):
    np.testing.assert_allclose(values(a), values(b), rtol=1e-5, atol=atol)


# ----------------------------------------------------------------------- acceptance programs

def _quadratic_descent(lib):
    x = lib.tensor([10.0], requires_grad=True)
    for _ in range(100):
        fx = lib.add(lib.mul(2, lib.pow(x, 2)), 5)
        fx.backward()
        x.data.sub_(0.1 * x.grad)
        x.grad.zero_()
    return x.detach().numpy().copy()


def test_quadratic_descent_reaches_minimum():
    assert abs(_quadratic_descent(dark)[0]) < 1e-12


@requires_torch
def test_quadratic_descent_matches_torch():
    np.testing.assert_allclose(_quadratic_descent(dark), _quadratic_descent(torch), rtol=1e-5,
                               atol=1e-30)


def _branching_program(lib):
    p1 = lib.tensor(1.0, requires_grad=True)
    p2_1 = lib.tensor(2.0, requires_grad=True)
    p2_2 = lib.tensor(3.0, requires_grad=True)
    p3 = lib.tensor(1.5, requires_grad=True)
    x = 3
    o1 = (p1 * x) ** 2 + 1
    o2_1 = (p2_1 * o1) ** 0.5 - 4
    o2_2 = (p2_2 * o1).sin()
    o3 = (p3 * (o2_1 + 2 * o2_2) + 9) ** 0.3
    y = 8 * o3
    y.backward()
    return y, [p.grad.item() for p in (p1, p2_1, p2_2, p3)]


def test_branching_graph_gradients():
    y, grads = _branching_program(dark)
    np.testing.assert_allclose(grads, [19.5745, 1.0581, 2.9195, -0.9488], atol=1e-4)


@requires_torch
def test_branching_graph_gradients_match_torch():
    y, grads = _branching_program(dark)
    torch_y, torch_grads = _branching_program(torch)
    np.testing.assert_allclose(grads, torch_grads, rtol=1e-5)
    assert y.item() == pytest.approx(torch_y.item(), rel=1e-6)


def test_gradients_accumulate_and_reset():
    x = dark.tensor(1.0, requires_grad=True)
    (x ** 2).backward()
    assert x.grad.item() == 2.0
    y2 = x ** 3
    y2.backward()
    assert x.grad.item() == 5.0
    x.grad = None
    assert x.grad is None
    (x ** 3).backward()
    assert x.grad.item() == 3.0


def test_accumulation_is_in_place():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    assert first is x.grad
    close(first, dark.tensor([5.0, 5.0]))


# ----------------------------------------------------------------------- backward options

@pytest.mark.parametrize("lib", LIBS)
def test_backward_with_gradient(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(gradient=lib.tensor([1.0, 0.5, -1.0]))
    np.testing.assert_allclose(values(x.grad), [2.0, 2.0, -6.0])


def test_backward_of_a_leaf_itself():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    x.backward(dark.tensor([3.0, 4.0]))
    close(x.grad, dark.tensor([3.0, 4.0]))


def test_retain_graph_allows_second_backward():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, dark.tensor([4.0, 8.0]))


@pytest.mark.parametrize("lib", LIBS)
def test_second_backward_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        y.backward()
        y.backward()

    same_error(lib, program, "Trying to backward through the graph a second time")


def test_saved_values_are_released_after_backward():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    node = y.grad_fn.next_functions[0][0]
    assert node._saved is not None
    y.backward()
    assert node._saved is None
    with pytest.raises(RuntimeError, match="after they have already been freed"):
        _ = node.saved_tensors


def test_create_graph_backward_gives_differentiable_grad():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    close(x.grad, dark.tensor([3.0, 12.0]))
    (second,) = dark.autograd.grad(x.grad.sum(), x)
    close(second, dark.tensor([6.0, 12.0]))


@pytest.mark.parametrize("lib", LIBS)
def test_backward_inputs_restricts_accumulation(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_allclose(values(w.grad), [1.0, 2.0])


def test_backward_inputs_non_leaf_does_not_run_beyond_it():
    # torch runs the (freed) node behind y here and raises; dark stops at y
    lib = dark
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * y).sum().backward()  # frees the saved values of y's node
    (y * 3).sum().backward(inputs=[y])
    np.testing.assert_allclose(values(y.grad), [3.0, 3.0])
    np.testing.assert_allclose(values(x.grad), [8.0, 16.0])


@pytest.mark.parametrize("lib", LIBS)
def test_backward_several_roots(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y1 = (x * 2).sum()
    y2 = (x * x).sum()
    lib.autograd.backward([y1, y2], [lib.tensor(1.0), lib.tensor(2.0)])
    np.testing.assert_allclose(values(x.grad), [6.0, 10.0])


# ----------------------------------------------------------------------- autograd.grad

@pytest.mark.parametrize("lib", LIBS)
def test_grad_returns_tuple_and_leaves_grad_untouched(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0], requires_grad=True)
    y = x * w
    gx, gw = lib.autograd.grad(y, [x, w], grad_outputs=lib.tensor([1.0, 2.0]))
    np.testing.assert_allclose(values(gx), [3.0, 8.0])
    np.testing.assert_allclose(values(gw), [1.0, 4.0])
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


@pytest.mark.parametrize("lib", LIBS)
def test_grad_same_output_twice(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 2).sum()
    (g,) = lib.autograd.grad([y, y], x)
    np.testing.assert_allclose(values(g), [4.0, 4.0])


@pytest.mark.parametrize("lib", LIBS)
def test_grad_with_respect_to_intermediate(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (g,) = lib.autograd.grad((y * y).sum(), y)
    np.testing.assert_allclose(values(g), [6.0, 12.0])


@pytest.mark.parametrize("lib", LIBS)
def test_grad_allow_unused(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    unused = lib.tensor([1.0], requires_grad=True)
    gx, gu = lib.autograd.grad((x * 3).sum(), [x, unused], allow_unused=True)
    np.testing.assert_allclose(values(gx), [3.0, 3.0])
    assert gu is None
    gx, gu = lib.autograd.grad((x * 3).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_allclose(values(gu), [0.0])


@pytest.mark.parametrize("lib", LIBS)
def test_grad_unused_input_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.autograd.grad((x * 3).sum(), [x, w])

    same_error(lib, program, "The differentiated Tensor at index 1 appears to not have been "
                                    "used in the graph")


@pytest.mark.parametrize("lib", LIBS)
def test_grad_input_that_does_not_require_grad_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.autograd.grad((x * 3).sum(), [x, lib.tensor([1.0])])

    same_error(lib, program, "One of the differentiated Tensors does not require grad")


def test_grad_retain_graph():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (first,) = dark.autograd.grad(y, x, retain_graph=True)
    (second,) = dark.autograd.grad(y, x)
    close(first, second)
    with pytest.raises(RuntimeError, match="second time"):
        dark.autograd.grad(y, x)


# ----------------------------------------------------------------------- retain_grad, hooks

@pytest.mark.parametrize("lib", LIBS)
def test_retain_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    np.testing.assert_allclose(values(y.grad), [4.0, 8.0])
    np.testing.assert_allclose(values(x.grad), [8.0, 16.0])


def test_non_leaf_grad_without_retain_warns():
    x = dark.tensor([1.0], requires_grad=True)
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert y.grad is None


@pytest.mark.parametrize("lib", LIBS)
def test_leaf_hook_modifies_grad_and_is_removable(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(values(g)) or g * 10)
    (x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), [20.0, 40.0])
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    (g,) = lib.autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(values(g), [20.0, 40.0])
    handle.remove()
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 4.0])
    assert len(seen) == 2


@pytest.mark.parametrize("lib", LIBS)
def test_non_leaf_hook_changes_upstream_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    handle = y.register_hook(lambda g: g * 10)
    z = (y * y).sum()
    z.backward(retain_graph=True)
    np.testing.assert_allclose(values(x.grad), [80.0, 160.0])
    handle.remove()
    x.grad = None
    z.backward()
    np.testing.assert_allclose(values(x.grad), [8.0, 16.0])


@pytest.mark.parametrize("lib", LIBS)
def test_retained_grad_sees_hooked_value(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.register_hook(lambda g: g * 100)
    y.sum().backward()
    np.testing.assert_allclose(values(y.grad), [100.0, 100.0])
    np.testing.assert_allclose(values(x.grad), [200.0, 200.0])


@pytest.mark.parametrize("lib", LIBS)
def test_node_hooks(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    calls = []

    def post(grad_inputs, grad_outputs):
        calls.append((values(grad_inputs[0]), values(grad_outputs[0])))
        return (grad_inputs[0] * 5, grad_inputs[1])

    post_handle = y.grad_fn.register_hook(post)
    pre_handle = y.grad_fn.register_prehook(lambda grad_outputs: (grad_outputs[0] * 2,))
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(values(x.grad), [20.0, 20.0])
    np.testing.assert_allclose(calls[0][0], [4.0, 4.0])
    np.testing.assert_allclose(calls[0][1], [2.0, 2.0])
    post_handle.remove()
    pre_handle.remove()
    x.grad = None
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 2.0])
    assert len(calls) == 1


@pytest.mark.parametrize("lib", LIBS)
def test_hook_on_tensor_without_grad_raises(lib):
    same_error(lib, lambda lib: lib.tensor([1.0]).register_hook(lambda g: g),
                           "cannot register a hook on a tensor that doesn't require gradient")


# ----------------------------------------------------------------------- graph structure

@pytest.mark.parametrize("lib", LIBS)
def test_graph_structure(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    assert type(y.grad_fn).__name__ == "MulBackward0" and y.grad_fn.name() == "MulBackward0"
    accumulate, output_nr = y.grad_fn.next_functions[0]
    assert accumulate.variable is x and output_nr == 0
    assert (x.detach() * 2).grad_fn is None
    assert not (lib.tensor([1.0]) * 2).requires_grad


# ----------------------------------------------------------------------- user Functions

def _square_function(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x * x * scale

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 2 * x * ctx.scale, None

    return Square


@pytest.mark.parametrize("lib", LIBS)
def test_user_function(lib):
    Square = _square_function(lib)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Square.apply(x, 3.0)
    assert type(y.grad_fn).__name__ == "SquareBackward"
    y.sum().backward()
    np.testing.assert_allclose(values(y), [3.0, 12.0])
    np.testing.assert_allclose(values(x.grad), [6.0, 12.0])


@pytest.mark.parametrize("lib", LIBS)
def test_user_function_with_create_graph(lib):
    Square = _square_function(lib)
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    (g,) = lib.autograd.grad(Square.apply(x, 3.0).sum(), x, create_graph=True)
    (gg,) = lib.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(values(g), [6.0, 12.0])
    np.testing.assert_allclose(values(gg), [6.0, 6.0])


@pytest.mark.parametrize("lib", LIBS)
def test_user_function_needs_input_grad(lib):
    seen = []

    class Product(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            seen.append(tuple(ctx.needs_input_grad))
            a, b = ctx.saved_tensors
            return (grad * b if ctx.needs_input_grad[0] else None,
                    grad * a if ctx.needs_input_grad[1] else None)

    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0])
    Product.apply(a, b).sum().backward()
    assert seen == [(True, False)]
    np.testing.assert_allclose(values(a.grad), [3.0, 4.0])


@pytest.mark.parametrize("lib", LIBS)
def test_user_function_two_outputs(lib):
    class TwoOutputs(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, grad_double, grad_square):
            (x,) = ctx.saved_tensors
            return grad_double * 2 + grad_square * 2 * x

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    double, square = TwoOutputs.apply(x)
    assert double.grad_fn is square.grad_fn and square.output_nr == 1
    (double.sum() + square.sum()).backward()
    np.testing.assert_allclose(values(x.grad), [4.0, 6.0])
    x.grad = None
    _, square = TwoOutputs.apply(x)
    square.sum().backward()  # the unused output's gradient arrives as zeros
    np.testing.assert_allclose(values(x.grad), [2.0, 4.0])


@pytest.mark.parametrize("lib", LIBS)
def test_user_function_mark_non_differentiable(lib):
    class WithIndex(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            index = (x * 0).long()
            doubled = x * 2
            ctx.mark_non_differentiable(index)
            return doubled, index

        @staticmethod
        def backward(ctx, grad, grad_index):
            return grad * 2

    class Constant(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x * 2
            ctx.mark_non_differentiable(out)
            return out

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = lib.tensor([1.0, -2.0], requires_grad=True)
    doubled, index = WithIndex.apply(x)
    assert doubled.requires_grad and not index.requires_grad
    doubled.sum().backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 2.0])
    constant = Constant.apply(x)
    assert not constant.requires_grad and constant.grad_fn is None


def test_user_function_wrong_number_of_gradients():
    class Wrong(dark.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad

    a = dark.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        Wrong.apply(a, dark.tensor([2.0])).sum().backward()


# ----------------------------------------------------------------------- grad modes

@pytest.mark.parametrize("lib", LIBS)
def test_grad_mode_context_managers(lib):
    x = lib.tensor([1.0], requires_grad=True)
    with lib.no_grad():
        assert not (x * 2).requires_grad
        assert not lib.is_grad_enabled()
        with lib.enable_grad():
            assert (x * 2).requires_grad
    with lib.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert lib.is_grad_enabled()
    with lib.inference_mode():
        assert not (x * 2).requires_grad
    with lib.inference_mode(False):
        assert (x * 2).requires_grad
    assert (x * 2).requires_grad


@pytest.mark.parametrize("lib", LIBS)
def test_grad_mode_decorators(lib):
    @lib.no_grad()
    def without(x):
        return x * 2

    @lib.enable_grad()
    def with_grad(x):
        return x * 2

    @lib.inference_mode()
    def inference(x):
        return x * 2

    @lib.set_grad_enabled(False)
    def disabled(x):
        return x * 2

    assert lib.is_grad_enabled()  # set_grad_enabled as a decorator leaves the mode as it was
    x = lib.tensor([1.0], requires_grad=True)
    assert not without(x).requires_grad
    assert not inference(x).requires_grad
    assert not disabled(x).requires_grad
    with lib.no_grad():
        assert with_grad(x).requires_grad
    assert lib.is_grad_enabled()


@pytest.mark.parametrize("lib", LIBS)
def test_set_grad_enabled_as_function(lib):
    x = lib.tensor([1.0], requires_grad=True)
    lib.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        lib.set_grad_enabled(True)
    assert (x * 2).requires_grad


@pytest.mark.parametrize("lib", LIBS)
def test_grad_mode_is_thread_local(lib):
    seen = []
    x = lib.tensor([1.0], requires_grad=True)

    def worker():
        seen.append((lib.is_grad_enabled(), (x * 2).requires_grad))

    with lib.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        seen.append((lib.is_grad_enabled(), (x * 2).requires_grad))
    assert seen == [(True, True), (False, False)]


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with dark.no_grad():
            raise ValueError
    assert dark.is_grad_enabled()


# ----------------------------------------------------------------------- gradcheck

def _cube_function(lib, wrong_first=False, wrong_second=False):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            if wrong_first:
                return grad * 2 * x * x
            if wrong_second:  # right values, but detach() hides x from the second derivative
                return grad * 3 * x * x.detach()
            return grad * 3 * x * x

    return Cube


@pytest.mark.parametrize("lib", LIBS)
def test_gradcheck_passes_and_detects_wrong_backward(lib):
    x = lib.tensor([0.5, -1.5, 2.0], dtype=lib.float64, requires_grad=True)
    assert lib.autograd.gradcheck(_cube_function(lib).apply, (x,))
    assert lib.autograd.gradgradcheck(_cube_function(lib).apply, (x,))
    with pytest.raises(sys.modules[f"{lib.__name__}.autograd.gradcheck"].GradcheckError):
        lib.autograd.gradcheck(_cube_function(lib, wrong_first=True).apply, (x,))
    assert not lib.autograd.gradcheck(_cube_function(lib, wrong_first=True).apply, (x,),
                                      raise_exception=False)
    wrong_second = _cube_function(lib, wrong_second=True).apply
    assert lib.autograd.gradcheck(wrong_second, (x,))
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        lib.autograd.gradgradcheck(wrong_second, (x,))


def test_gradcheck_several_inputs_and_outputs():
    a = dark.tensor([[0.3, -0.2], [1.1, 0.4]], dtype=dark.float64, requires_grad=True)
    b = dark.tensor([0.7, -1.3], dtype=dark.float64, requires_grad=True)
    assert dark.autograd.gradcheck(lambda a, b: ((a * b).tanh(), (a + b).exp()), (a, b))
    assert dark.autograd.gradgradcheck(lambda a, b: (a * b).sin() * b, (a, b))


def test_gradcheck_without_inputs_requiring_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        dark.autograd.gradcheck(lambda a: a * 2, (dark.tensor([1.0], dtype=dark.float64),))


# ----------------------------------------------------------------------- anomaly detection

def _nan_function(lib):
    class Nan(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            return grad * float("nan")

    return Nan


@pytest.mark.parametrize("lib", LIBS)
def test_detect_anomaly_names_user_function(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError) as error:
            with lib.autograd.detect_anomaly():
                _nan_function(lib).apply(x).sum().backward()
    assert str(error.value) == "Function 'NanBackward' returned nan values in its 0th output."


@pytest.mark.parametrize("lib", LIBS)
def test_detect_anomaly_names_builtin_op(lib):
    x = lib.tensor([0.0, 4.0], requires_grad=True)
    with pytest.warns(UserWarning) as record:
        with pytest.raises(RuntimeError) as error:
            with lib.autograd.detect_anomaly():
                ((x ** 0.5) * 0).sum().backward()
    assert str(error.value) == "Function 'PowBackward0' returned nan values in its 0th output."
    assert any("Error detected in PowBackward0" in str(w.message) for w in record)
    assert any("test_autograd.py" in str(w.message) for w in record
               if "Error detected" in str(w.message))


def test_without_anomaly_mode_nan_passes_silently():
    x = dark.tensor([1.0], requires_grad=True)
    _nan_function(dark).apply(x).sum().backward()
    assert np.isnan(values(x.grad)).all()
    with dark.autograd.set_detect_anomaly(True, check_nan=False):
        _nan_function(dark).apply(x).sum().backward()


# ----------------------------------------------------------------------- higher order

@pytest.mark.parametrize("lib", LIBS)
def test_second_derivative_of_cube(lib):
    x = lib.tensor([1.0, 2.0, -3.0], requires_grad=True)
    (first,) = lib.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (second,) = lib.autograd.grad(first.sum(), x)
    np.testing.assert_allclose(values(first), 3 * np.array([1.0, 4.0, 9.0]))
    np.testing.assert_allclose(values(second), 6 * np.array([1.0, 2.0, -3.0]))


def test_derivatives_of_sin_up_to_fourth_order():
    data = np.array([0.3, 1.2, -2.0])
    x = dark.tensor(data, requires_grad=True)
    y = x.sin().sum()
    expected = [np.cos(data), -np.sin(data), -np.cos(data), np.sin(data)]
    for order, want in enumerate(expected):
        (y,) = dark.autograd.grad(y, x, create_graph=order < 3)
        np.testing.assert_allclose(values(y), want, rtol=1e-12)
        y = y.sum()


# ----------------------------------------------------------------------- scale and memory

@pytest.mark.parametrize("step", ["mul", "add"])
def test_ten_thousand_op_chain(step):
    x = dark.tensor([1.0], dtype=dark.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 if step == "mul" else y + 1
    y.backward()
    expected = 1.0001 ** 10_000 if step == "mul" else 1.0
    np.testing.assert_allclose(values(x.grad), [expected], rtol=1e-9)


def test_graph_is_freed_without_garbage_collector():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    gc.disable()
    try:
        y = (x * 2).exp().sum()
        node = weakref.ref(y.grad_fn)
        inner = weakref.ref(y.grad_fn.next_functions[0][0])
        y.backward()
        del y
        assert node() is None and inner() is None
    finally:
        gc.enable()


def test_training_loop_memory_is_flat():
    x = dark.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = dark.tensor([0.5, -0.5, 0.25], requires_grad=True)

    def step():
        loss = (x * w).tanh().sum()
        loss.backward()
        w.grad = None
        x.grad = None

    gc.collect()
    # CPython keeps up to 2000 freed 1-tuples for reuse, a bounded cache that a loop fills at
    # its own pace (a faster backward that drops fewer tuples fills it over ~5000 steps, which
    # reads as growth below): filled here first, so that only a real leak grows
    spare = [(i,) for i in range(3_000)]
    del spare
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(1_000):
            step()
        after_first = tracemalloc.get_traced_memory()[0]
        for _ in range(9_000):
            step()
        after_last = tracemalloc.get_traced_memory()[0]
        unreachable = gc.collect()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert after_last - after_first < 20_000
    assert unreachable < 10  # no reference cycles keep graphs alive


# ----------------------------------------------------------------------- errors

@pytest.mark.parametrize("lib", LIBS)
def test_backward_without_grad_raises(lib):
    def program(lib):
        (lib.tensor([1.0, 2.0]) * 2).sum().backward()

    same_error(lib, program, "element 0 of tensors does not require grad and does not have "
                                    "a grad_fn")


@pytest.mark.parametrize("lib", LIBS)
def test_backward_after_no_grad_raises(lib):
    def program(lib):
        x = lib.tensor([1.0], requires_grad=True)
        with lib.no_grad():
            y = x * 2
        y.backward()

    same_error(lib, program, "element 0 of tensors does not require grad")


@pytest.mark.parametrize("lib", LIBS)
def test_non_scalar_backward_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 2).backward()

    same_error(lib, program, "grad can be implicitly created only for scalar outputs")


@pytest.mark.parametrize("lib", LIBS)
def test_gradient_of_wrong_shape_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (x * 2).backward(lib.tensor([1.0, 2.0, 3.0]))

    same_error(lib, program, r"Mismatch in shape: grad_output\[0\] has a shape of "
                                    r"dark.Size\(\[3\]\) and output\[0\] has a shape of "
                                    r"dark.Size\(\[2\]\)")


@pytest.mark.parametrize("lib", LIBS)
def test_in_place_on_leaf_requiring_grad_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.add_(1)

    same_error(lib, program, "a leaf Variable that requires grad is being used in an "
                                    "in-place operation.")


def test_in_place_on_leaf_under_no_grad_is_allowed():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    with dark.no_grad():
        x.mul_(2)
    close(x, dark.tensor([2.0, 4.0]))
    assert x.is_leaf and x.requires_grad


@pytest.mark.parametrize("lib", LIBS)
def test_modified_saved_input_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.sin()
        z = y.cos()
        y.mul_(2)
        z.sum().backward()

    same_error(lib, program, r"one of the variables needed for gradient computation has "
                                    r"been modified by an inplace operation: \[dark.FloatTensor "
                                    r"\[2\]\], which is output 0 of Mul, is at version 1; expected "
                                    r"version 0 instead")


@pytest.mark.parametrize("lib", LIBS)
def test_modified_saved_output_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.exp()
        y.add_(1)
        y.sum().backward()

    same_error(lib, program, "which is output 0 of Exp, is at version 1; expected version 0")


@pytest.mark.parametrize("lib", LIBS)
def test_modified_saved_leaf_raises(lib):
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        with lib.no_grad():
            x.add_(1)
        y.backward()

    same_error(lib, program, r"\[dark.FloatTensor \[2\]\] is at version 1; expected "
                                    r"version 0 instead")


def test_in_place_with_graph_records_history():
    x = dark.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.mul_(3)
    assert type(y.grad_fn).__name__ == "MulBackward0" and y._version == 1
    (y * y).sum().backward()
    close(x.grad, dark.tensor([18.0, 36.0]))


@pytest.mark.parametrize("lib", LIBS)
def test_requires_grad_on_integer_tensor_raises(lib):
    def program(lib):
        lib.tensor([1, 2]).requires_grad_()

    same_error(lib, program, "only Tensors of floating point and complex dtype can require "
                                    "gradients")


def test_mixed_devices_raise():
    if not dark.cuda.is_available():
        pytest.skip("needs a GPU")
    x = dark.tensor([1.0], requires_grad=True)
    y = dark.tensor([1.0], device="cuda")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x * y


def test_gradients_on_cuda(device):
    x = dark.tensor([1.0, 2.0], device=device, requires_grad=True)
    ((x * x).sin().sum()).backward()
    assert x.grad.device == x.device
    np.testing.assert_allclose(values(x.grad), 2 * np.array([1.0, 2.0]) * np.cos([1.0, 4.0]),
                               rtol=1e-6)
