"""Carving while cheap, recorded: a carve with fewer seams is a prefix of the first carve, bit for
bit, so the hybrid policy's retries take it from the record instead of carving again."""
import numpy as np
import pytest

from compress_core import SemanticCompressor
from compress_core.energy.base import CarvingTerms
from compress_core.hybrid import retarget
from compress_core.seams import SeamCarver
from compress_core.seams.cheap import CheapCarve, cheap_blocks, cheap_stop, kept_sources
from compress_core.seams.state import gather

from _core_data import GRADIENT, photo


def assert_same_carve(got, want):
    """Two (pixels, static, source, removed) results are identical, dtypes included."""
    pixels, static, source, removed = got
    assert removed == want[3]
    for a, b in ((pixels, want[0]), (source, want[2])):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    if want[1] is None:
        assert static is None
    else:
        assert static.dtype == want[1].dtype == np.float32
        np.testing.assert_array_equal(static, want[1])


class CheckingCarver(SeamCarver):
    """A SeamCarver whose records compare every retry they answer with a fresh carve: one with
    the retry's budget (what the policy ran before) and one of exactly the seams it kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.retries = []
        self.carves = 0

    def record_while_cheap(self, pixels, energy_terms, max_seams, vertical, max_seam_energy,
                           block=0):
        record = super().record_while_cheap(pixels, energy_terms, max_seams, vertical,
                                            max_seam_energy, block)
        self.carves += 1
        fewer = record.fewer

        def checked(budget, block=0):
            derived = fewer(budget, block)
            carve = super(CheckingCarver, self).record_while_cheap  # not counted
            fresh = carve(pixels, energy_terms, budget, vertical, max_seam_energy, block).result
            exact = carve(pixels, energy_terms, derived[3], vertical, np.inf).result
            self.retries.append((record.removed, budget, derived[3]))
            assert_same_carve(derived, fresh)
            assert_same_carve(derived, exact)
            return derived

        record.fewer = checked
        return record


@pytest.fixture(scope="module")
def deep():
    """The library's default energy (CNN map as the static term, faces)."""
    return SemanticCompressor().energy_function


# photo, target: the hybrid policy retries with fewer seams (seams and squeeze beyond 1.05),
# vertical seams (a narrower target) and horizontal ones (a wider one)
RETRIES = [("astronaut", (90, 160)), ("astronaut", (160, 90)), ("chelsea", (90, 160)),
           ("chelsea", (200, 80)), ("coffee", (100, 100)), ("china", (100, 100)),
           ("flower", (200, 80)), ("flower", (80, 200))]
DEEP_RETRIES = [("astronaut", (90, 160)), ("coffee", (160, 90)), ("china", (200, 80)),
                ("flower", (200, 80))]


@pytest.mark.parametrize("name, target", RETRIES)
def test_retries_of_the_policy_are_prefixes_of_the_first_carve(name, target):
    pixels = photo(name, 240)
    energy = GRADIENT(pixels)
    carver = CheckingCarver(GRADIENT)
    out, plan, source = retarget(pixels, energy, GRADIENT.terms_from_map(energy), target, carver)
    assert carver.retries, "the policy did not retry here: pick another target"
    assert carver.carves == 1  # one carve; every retry a prefix of it
    first = carver.retries[0][0]
    budgets = [budget for _, budget, _ in carver.retries]
    kept = [k for _, _, k in carver.retries]
    # each retry halves what the previous attempt removed; the plan keeps the last one (or,
    # after the last retry, no seams at all)
    assert budgets == [first // 2] + [k // 2 for k in kept[:-1]]
    assert plan.carved_vertical + plan.carved_horizontal in (0, kept[-1])
    assert out.shape == (target[1], target[0], 3)


@pytest.mark.parametrize("name, target", DEEP_RETRIES)
def test_retries_with_the_default_energy_carry_its_static_map(deep, name, target):
    pixels = photo(name, 240)
    importance = deep.importance(pixels)
    terms = deep.terms_from_map(importance.map)
    assert terms.static is not None
    carver = CheckingCarver(deep)
    retarget(pixels, importance.map, terms, target, carver, faces=importance.faces)
    assert carver.retries, "the policy did not retry here: pick another target"


@pytest.mark.parametrize("name", ["chelsea", "astronaut"])
@pytest.mark.parametrize("vertical", [True, False])
@pytest.mark.parametrize("forward", [False, True])
def test_fewer_is_a_fresh_carve_with_that_budget(name, vertical, forward):
    """With a limit that stops carving early, every smaller budget (its own block size and
    stopping point, default or given blocks) gives exactly what carving again gives."""
    pixels = photo(name, 160)
    h, w = pixels.shape[:2]
    static = GRADIENT(pixels)[::-1].copy()  # a static map unrelated to the dynamic term
    terms = CarvingTerms(static=static, gradient_weight=0.5)
    carver = SeamCarver(GRADIENT, energy_mode="forward" if forward else "backward")
    budget = (w if vertical else h) // 2
    unlimited = carver.record_while_cheap(pixels, terms, budget, vertical, np.inf)
    assert unlimited.removed == budget
    per_pixel = unlimited.costs / unlimited.seam_length
    # a limit that the carve's blocks step over: some seam before where it stops costs more
    for limit in np.unique(per_pixel).astype(float):
        n = cheap_stop(unlimited.costs, unlimited.seam_length, budget, limit)
        if 0 < n < budget and (per_pixel[:n - 1] > limit).any():
            break
    else:
        pytest.fail("no limit that a block steps over")
    record = carver.record_while_cheap(pixels, terms, budget, vertical, limit)
    assert 0 < record.removed < budget
    np.testing.assert_array_equal(record.costs, unlimited.costs[:record.removed])
    stopped_early = 0
    budgets = {1, 2, 3, 7, record.removed // 3, record.removed // 2, record.removed - 1,
               record.removed}
    for m in sorted(m for m in budgets if 1 <= m <= record.removed):
        for block in (0, 1, 4):
            derived = record.fewer(m, block)
            assert_same_carve(derived, carver.carve_while_cheap(pixels, terms, m, vertical, limit,
                                                                block))
            stopped_early += derived[3] < m
    assert stopped_early  # the replayed stopping rule, not just the budget, decided somewhere
    assert_same_carve(record.prefix(record.removed), record.result)


def test_stopping_rule_replay_on_given_costs():
    costs = np.array([1, 1, 1, 5, 1, 1, 9, 1], np.float32)
    assert cheap_stop(costs, 1, 8, 2.0, block=1) == 4  # the first costly seam
    assert cheap_stop(costs, 1, 8, 2.0, block=3) == 8  # blocks end at seams 3, 6, 8: all cheap
    assert cheap_stop(costs, 1, 7, 2.0, block=3) == 7  # a last block of one: seam 7
    assert cheap_stop(costs, 1, 8, 2.0, block=4) == 4
    assert cheap_stop(costs, 1, 3, 2.0) == 3  # ceil(3 / 40) = 1 per block, none costly
    assert cheap_stop(costs, 5, 8, 1.0, block=1) == 7  # 9 / 5 > 1
    with pytest.raises(ValueError, match="max_seams"):
        cheap_stop(costs, 1, 9, 2.0)


def test_stopping_rule_reads_each_block_cost_after_the_block_is_carved():
    # the carve fills a block's costs only after the rule has yielded it: the rule must not
    # look ahead (the live carve would read costs not carved yet)
    costs = np.full(8, np.nan, np.float32)
    blocks = []
    for start, stop in cheap_blocks(costs, 1, 8, 2.0, block=3):
        blocks.append((start, stop))
        costs[start:stop] = [1, 1, 1, 5, 1, 1, 9, 1][start:stop]
    assert blocks == [(0, 3), (3, 6), (6, 8)]
    costs[:] = np.nan
    blocks = []
    for start, stop in cheap_blocks(costs, 1, 8, 2.0, block=2):
        blocks.append((start, stop))
        costs[start:stop] = [1, 5, 1, 1, 1, 1, 1, 1][start:stop]
    assert blocks == [(0, 2)]  # seam 2 costs 5 > 2: the rule stops after its block


def _slow_kept_sources(seams, shape, vertical):
    h, w = shape
    gone = set(int(i) for i in seams.ravel())
    if vertical:
        return np.array([[y * w + x for x in range(w) if y * w + x not in gone]
                         for y in range(h)], np.int32)
    cols = [[y * w + x for y in range(h) if y * w + x not in gone] for x in range(w)]
    return np.array(cols, np.int32).T


@pytest.mark.parametrize("vertical", [True, False])
def test_kept_sources_matches_a_slow_reference(vertical):
    pixels = photo("coffee", 90)
    h, w = pixels.shape[:2]
    direction = "vertical" if vertical else "horizontal"
    carver = SeamCarver(GRADIENT)
    record = carver.record_while_cheap(pixels, GRADIENT.carving_terms(pixels), 25, vertical,
                                       np.inf)
    # the recorded seams are find_seams' seams, as flat input indices
    found = carver.find_seams(pixels, 25, direction)
    rows, cols = np.divmod(record.seams, w)
    np.testing.assert_array_equal(cols if vertical else rows, found)
    for k in (0, 1, 12, 25):
        got = kept_sources(record.seams[:k], (h, w), vertical)
        want = _slow_kept_sources(record.seams[:k], (h, w), vertical)
        assert got.dtype == np.int32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, want.reshape(got.shape))


def test_a_record_answers_only_smaller_budgets():
    pixels = photo("chelsea", 90)
    carver = SeamCarver(GRADIENT)
    record = carver.record_while_cheap(pixels, GRADIENT.carving_terms(pixels), 20, True, np.inf)
    assert isinstance(record, CheapCarve) and record.removed == 20 and record.vertical
    assert record.shape == pixels.shape[:2] and record.seams.shape == (20, pixels.shape[0])
    with pytest.raises(ValueError, match="max_seams must be at most the 20 seams"):
        record.fewer(21)
    with pytest.raises(ValueError, match="max_seams"):
        record.fewer(0)
    with pytest.raises(ValueError, match="k must be in"):
        record.prefix(21)
    # an input with one line: nothing to carve, whatever the budget
    line = np.ascontiguousarray(pixels[:, :1])
    one = carver.record_while_cheap(line, CarvingTerms(None, 1.0), 5, True, np.inf)
    assert one.removed == 0
    assert_same_carve(one.fewer(3), carver.carve_while_cheap(line, CarvingTerms(None, 1.0), 3,
                                                             True, np.inf))


def test_gather_checks_its_indices():
    pixels = photo("coffee", 30)
    h, w = pixels.shape[:2]
    out, static = gather(np.arange(6, dtype=np.int32).reshape(2, 3), pixels, None)
    np.testing.assert_array_equal(out, pixels[0, :6].reshape(2, 3, 3))
    assert static is None
    with pytest.raises(ValueError, match="indices must lie in"):
        gather(np.array([[h * w]], np.int32), pixels, None)
    with pytest.raises(ValueError, match="indices must lie in"):
        gather(np.array([[-1]], np.int32), pixels, None)
    with pytest.raises(ValueError, match="uint8"):
        gather(np.zeros((1, 1), np.int32), pixels.astype(np.float32), None)


@pytest.mark.parametrize("vertical", [True, False])
def test_no_seam_through_a_kept_pixel_is_kept(vertical):
    """A keep_mask band across the whole picture (every seam must cross it): the carve's first
    block was removed before the rule read its costs, so its seams went through the band (the
    hybrid's heads that span a close-up: 8 seams through kodim15's head at 400x100, diff
    review 33). The carve now ends before the first seam that costs KEEP_ENERGY or more; a
    band that seams can go round is kept without ending the carve."""
    from compress_core.seams.inputs import with_masks

    pixels = photo("chelsea", 160)
    h, w = pixels.shape[:2]
    static = GRADIENT(pixels)
    carver = SeamCarver(GRADIENT)
    budget = (w if vertical else h) // 2
    rows, cols = np.zeros((h, w), bool), np.zeros((h, w), bool)
    rows[h // 2 - 3:h // 2 + 3, :] = True   # every vertical seam crosses it
    cols[:, w // 2 - 3:w // 2 + 3] = True   # every horizontal seam crosses it
    crossed, gone_round = (rows, cols) if vertical else (cols, rows)
    for keep, expect_seams in ((crossed, False), (gone_round, True)):
        terms = CarvingTerms(static=with_masks(static, keep, None, (h, w)), gradient_weight=1.0)
        record = carver.record_while_cheap(pixels, terms, budget, vertical, np.inf)
        kept = np.zeros(h * w, bool)
        kept[record.result[2].ravel()] = True
        assert kept[keep.ravel()].all(), (vertical, int((~kept[keep.ravel()]).sum()))
        assert record.removed == (budget if expect_seams else 0), (vertical, record.removed)
        assert record.removed == len(record.seams) == record.result[3]
    # seams that cost KEEP_ENERGY without a kept pixel (long seams of a 24 MP photo's textures
    # reach 1e5: a first version that read the cost alone dropped all 41 seams of the coffee
    # enlarged to 6000 x 4000) are kept
    dear = CarvingTerms(static=static + np.float32(2000.0), gradient_weight=1.0)
    record = carver.record_while_cheap(pixels, dear, budget, vertical, np.inf)
    assert record.costs.min() >= 1e5 and record.removed == budget
