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


def test_folds_cover_the_non_test_part_once_and_keep_the_test_part():
    ids = np.repeat(np.arange(40), 3)  # 40 people, 3 faces each
    plain = make_split(len(ids), "paper", 0, ids)
    vals = []
    for k in range(4):
        s = make_split(len(ids), "paper", 0, ids, folds=4, fold=k)
        assert np.array_equal(s["test"], plain["test"])  # the held-out test part is never in a fold
        assert not set(s["train"]) & set(s["val"]) and not set(s["val"]) & set(s["test"])
        assert not set(ids[s["train"]]) & set(ids[s["val"]])  # whole people
        vals.append(s["val"])
    every = np.concatenate(vals)
    assert len(every) == len(set(every)) == len(plain["train"]) + len(plain["val"])
    assert max(map(len, vals)) - min(map(len, vals)) <= 3  # about equal in faces
    with pytest.raises(ValueError, match="fold 4 of 4"):
        make_split(len(ids), "paper", 0, ids, folds=4, fold=4)


def test_paper_part_is_the_seed_0_split_or_every_face():
    from facekeypoints.data.splits import paper_part

    ids = np.repeat(np.arange(40), 3)
    assert np.array_equal(paper_part(120, "all", ids), np.arange(120))
    for part in ("train", "val", "test"):
        assert np.array_equal(paper_part(120, part, ids), make_split(120, "paper", 0, ids)[part])
