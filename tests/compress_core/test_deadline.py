"""Time budgets: ``compress(max_seconds=...)`` stops itself between steps."""
import re
import threading
import time

import numpy as np
import pytest
from skimage import data

from compress_core import CompressionTimeoutError, SemanticCompressor, deadline
from compress_core.energy.gradient import GradientEnergyFunction


@pytest.fixture(scope="module")
def big_photo():
    """1536 x 1024 (the astronaut tiled): carving 936 seams takes ~0.7 s here."""
    return np.ascontiguousarray(np.tile(data.astronaut(), (2, 3, 1)))


@pytest.fixture(scope="module")
def compressor():
    comp = SemanticCompressor(GradientEnergyFunction())
    comp.compress(data.astronaut()[:40, :40], method="seam_carving", scale=0.8,
                  show_progress=False)  # compile / load the kernels outside the budgets
    return comp


CARVE = dict(method="seam_carving", target_width=600, target_height=1024, show_progress=False,
             format="png")


def test_a_generous_budget_changes_nothing(compressor, big_photo):
    """Under a budget the kernels run in blocks; the seams and bytes stay the same."""
    plain = compressor.compress(big_photo, **CARVE)
    budgeted = compressor.compress(big_photo, max_seconds=600, **CARVE)
    np.testing.assert_array_equal(plain.pixels, budgeted.pixels)
    assert plain.data == budgeted.data and plain.seams == budgeted.seams


class _SteppingClock:
    """A monotonic clock that moves ``step`` seconds each time it is read, so a budget runs out
    after a set number of the library's checks, however loaded the machine is."""

    def __init__(self, step):
        self.now, self.step = 1000.0, step

    def monotonic(self):
        self.now += self.step
        return self.now


def test_carving_stops_at_its_budget(compressor, big_photo, monkeypatch):
    """Decoding and the energy map take one check each; the budget (5 clock reads) then runs out
    inside the carve, which stops after its next block of seams, not at the end."""
    monkeypatch.setattr(deadline, "time", _SteppingClock(0.01))
    with pytest.raises(CompressionTimeoutError) as info:
        compressor.compress(big_photo, max_seconds=0.045, **CARVE)
    message = str(info.value)
    assert "0.045 s" in message and "max_seconds" in message
    done = int(re.search(r"removing seams \((\d+) of the 936 of this step\)", message).group(1))
    assert 0 < done < 936 // 5, message  # stopped between two blocks, early in the carve
    assert isinstance(info.value, TimeoutError)


def test_carving_stops_soon_after_a_real_deadline(compressor, big_photo):
    start = time.perf_counter()
    with pytest.raises(CompressionTimeoutError, match="max_seconds"):
        compressor.compress(big_photo, max_seconds=0.05, **CARVE)
    # wherever it stopped (the energy map on a loaded machine, else a block of seams), it did
    # not finish the carve first (~0.7 s here, several seconds under load)
    assert time.perf_counter() - start < 0.05 + 2.0


def test_the_byte_budget_search_stops_at_its_budget(compressor, monkeypatch):
    """On the stepping clock the budget ends after decoding, the energy map, the resize and one
    step of the byte-budget search: the search stops at its next check. (Slowing the encoder
    down instead depended on how fast the search ran, and on which module's ``encode`` it
    called.)"""
    monkeypatch.setattr(deadline, "time", _SteppingClock(0.01))
    with pytest.raises(CompressionTimeoutError, match="quality search|byte-budget candidate"):
        compressor.compress(data.chelsea(), target_bytes=3000, format="jpeg", max_seconds=0.045,
                            show_progress=False)


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_max_seconds_must_be_positive_and_finite(compressor, bad):
    with pytest.raises(ValueError, match="max_seconds"):
        compressor.compress(data.chelsea(), scale=0.5, max_seconds=bad, show_progress=False)


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_max_seconds_must_be_a_number(compressor, bad):
    with pytest.raises(TypeError, match="max_seconds"):
        compressor.compress(data.chelsea(), scale=0.5, max_seconds=bad, show_progress=False)


# ------------------------------------------------------------- the deadline module
def test_check_outside_a_budget_does_nothing():
    assert not deadline.active()
    deadline.check("anything")


def test_budget_runs_out_and_is_restored():
    with deadline.time_budget(0.01):
        assert deadline.active()
        time.sleep(0.03)
        with pytest.raises(CompressionTimeoutError, match="stopped after the nap"):
            deadline.check("the nap")
    assert not deadline.active()
    deadline.check("after the budget")


def test_the_stricter_of_nested_budgets_wins():
    with deadline.time_budget(0.01):
        with deadline.time_budget(60):  # looser: the outer one stays in force
            time.sleep(0.03)
            with pytest.raises(CompressionTimeoutError, match="0.01 s"):
                deadline.check("inner")
    with deadline.time_budget(60):
        with deadline.time_budget(0.01):
            time.sleep(0.03)
            with pytest.raises(CompressionTimeoutError, match="0.01 s"):
                deadline.check("inner")
        deadline.check("outer, still within 60 s")


def test_a_budget_belongs_to_its_thread():
    seen = {}
    with deadline.time_budget(0.01):
        time.sleep(0.03)
        thread = threading.Thread(target=lambda: seen.update(active=deadline.active()))
        thread.start()
        thread.join()
    assert seen == {"active": False}


@pytest.mark.parametrize("seconds", [1e10, 1e300])
def test_call_within_a_budget_past_what_threads_can_wait_is_no_limit(seconds):
    """threading waits at most TIMEOUT_MAX (292 years): 1e10 s raised OverflowError, and the
    job's --max_seconds_per_image 1e300, valid at launch, failed every image (edge review 36)."""
    assert deadline.call_within(seconds, lambda: 42) == 42


def test_an_error_raised_through_call_within_holds_no_frames_once_dropped():
    """Diff review 43: call_within kept the error in a box its traceback reached, a cycle that
    held the call's frames (a picture's arrays) until the next full collection, where the job
    drops a MemoryError to free them."""
    import gc
    import weakref

    held = []

    def hungry():
        pixels = np.zeros((64, 64, 3), np.uint8)
        held.append(weakref.ref(pixels))
        raise MemoryError()

    gc.disable()
    try:
        try:
            deadline.call_within(30, hungry)
        except MemoryError:
            pass
        assert held and held[0]() is None
    finally:
        gc.enable()
