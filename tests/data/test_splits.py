import numpy as np
import pytest

from facekeypoints.data import make_split


def test_paper_split_proportions_and_disjoint():
    s = make_split(1000, "paper", seed=0)
    sizes = {k: len(v) for k, v in s.items()}
    assert sizes == {"train": 560, "val": 140, "test": 300}
    allidx = np.concatenate(list(s.values()))
    assert len(np.unique(allidx)) == 1000


def test_split_is_seeded():
    a, b, c = make_split(200, seed=1), make_split(200, seed=1), make_split(200, seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])


def test_people_never_straddle_parts():
    rng = np.random.default_rng(0)
    ids = np.repeat([f"p{i}" for i in range(60)], rng.integers(3, 20, 60))
    s = make_split(len(ids), identities=ids, seed=3)
    people = {k: set(ids[v]) for k, v in s.items()}
    assert not (people["train"] & people["test"]) and not (people["train"] & people["val"])
    assert not (people["val"] & people["test"])
    frac = {k: len(v) / len(ids) for k, v in s.items()}
    assert abs(frac["test"] - 0.30) < 0.05 and abs(frac["val"] - 0.14) < 0.05


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split"):
        make_split(10, "random")
