"""dark.random's fast float32 normal kernel (``_NormalFill32``, torch's normal_fill_16_AVX2
on reused buffers, with integer bit tricks and the exact-product fused multiply-adds as
float32 adds) against the plain emulation it replaces (``_box_muller_16`` through
``_log_avx`` / ``_sincos_avx``, which tests/test_random.py checks against torch): bit for bit
over every one of the 2**24 uniforms that the log and the sincos each take, with and without
mean/std, and in rows of every chunk size it is called with. Needs no torch."""
import numpy as np
import pytest

from dark import random as R


def every_draw():
    """Draws' low 24 bits (int32, the kernel's input) in rows of 16 that take every value in
    the first 8 (log's input) and, reversed, in the last 8 (sincos's)."""
    rows = np.arange(1 << 24, dtype=np.int32).reshape(-1, 8)
    return np.concatenate([rows, rows[::-1]], axis=1).ravel()


@pytest.mark.parametrize("mean,std", [(None, None), (0.5, 3.0), (-2.0, 0.1)])
def test_fast_kernel_equals_plain_emulation_on_every_uniform(mean, std):
    raw = every_draw()
    fill = R._NormalFill32(R._NORMAL_ROWS)
    step = 16 * R._NORMAL_ROWS * 64
    for start in range(0, raw.size, step):
        part = raw[start:start + step]
        u = (part.astype(np.float32) * np.float32(2.0 ** -24)).reshape(-1, 16)
        ref = R._box_muller_16(u, np.float32, np.float32(0 if mean is None else mean),
                               np.float32(1 if std is None else std))
        out = np.empty_like(ref)
        for row in range(0, len(out), R._NORMAL_ROWS):
            fill(part[16 * row:16 * (row + R._NORMAL_ROWS)], out[row:row + R._NORMAL_ROWS],
                 *((None, None) if mean is None
                   else (float(np.float32(mean)), float(np.float32(std)))))
        bad = np.flatnonzero(ref.view(np.int32) != out.view(np.int32))
        assert bad.size == 0, (start, bad[:5], ref.ravel()[bad[:5]], out.ravel()[bad[:5]])


@pytest.mark.parametrize("rows", [1, 2, 7, R._NORMAL_ROWS])
def test_fast_kernel_any_row_count(rows):
    raw = np.random.default_rng(rows).integers(0, 1 << 24, 16 * rows, dtype=np.int32)
    u = raw.astype(np.float32) * np.float32(2.0 ** -24)
    ref = R._box_muller_16(u.reshape(-1, 16), np.float32, np.float32(0), np.float32(1))
    out = np.full((rows, 16), np.nan, np.float32)
    R._NormalFill32(R._NORMAL_ROWS)(raw, out)
    np.testing.assert_array_equal(out.view(np.int32), ref.view(np.int32))



@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.5, 3.0)])
def test_engine_passes_in_threads_equal_one_thread(mean, std):
    """A draw of several passes (drawn in order, transformed on dark's threads) equals the
    one-thread draw and the plain emulation, and leaves the generator in the same state."""
    import dark

    n = 3 * 16 * R._NORMAL_ROWS + 37
    results, states = [], []
    before = dark.get_num_threads()
    try:
        for threads in (1, 2):
            dark.set_num_threads(threads)
            engine = R._CPUEngine(7)
            results.append(engine.normal((n,), np.float32, mean=mean, std=std))
            states.append(engine.get_state(7))
    finally:
        dark.set_num_threads(before)
    np.testing.assert_array_equal(results[0].view(np.int32), results[1].view(np.int32))
    assert states[0] == states[1]
    engine = R._CPUEngine(7)
    full = n // 16 * 16
    u = engine.unit(full, np.float32).reshape(-1, 16)
    ref = R._box_muller_16(u, np.float32, np.float32(mean), np.float32(std)).ravel()
    np.testing.assert_array_equal(results[0][:n - 16].view(np.int32),
                                  ref[:n - 16].view(np.int32))


def test_low24_are_the_draws_low_bits():
    """The int32 draws the float32 kernels take (numpy's legacy masked bounded integers) are
    the low 24 bits of the raw 32-bit draws, one draw each, and leave the same state."""
    ours, raw = R._CPUEngine(11), R._CPUEngine(11)
    for n in (1, 7, 1000, 70000):
        np.testing.assert_array_equal(ours.low24(n), raw.raw32(n) & np.uint64(0xFFFFFF))
    assert ours.get_state(11) == raw.get_state(11)
