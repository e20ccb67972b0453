import pytest

from facekeypoints.config import RECIPES, make_config, parse_overrides


def test_paper_recipe_is_the_report():
    c = make_config("paper")
    assert (c.model, c.epochs, c.batch_size, c.lr, c.optimizer, c.loss, c.missing) == (
        "paper", 50, 256, 1e-3, "adam", "mse", "ffill")


def test_overrides_are_parsed_and_type_checked():
    c = make_config("paper", **parse_overrides(["epochs=5", "lr=3e-4", "missing=masked", "weight_decay=0"]))
    assert c.epochs == 5 and c.lr == 3e-4 and c.missing == "masked" and c.weight_decay == 0.0
    with pytest.raises(ValueError, match="expected int"):
        make_config("paper", epochs="2.5")
    with pytest.raises(ValueError, match="choose from"):
        make_config("paper", loss="huber")


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'epochs'"):
        make_config("paper", epoch="3")
    with pytest.raises(ValueError, match="not key=value"):
        parse_overrides(["epochs"])


def test_every_recipe_resolves_to_its_own_keys():
    for name, keys in RECIPES.items():
        cfg = make_config(name)
        assert cfg.recipe == name
        assert all(getattr(cfg, k) == v for k, v in keys.items()), name  # the recipe's keys, none lost


def test_the_config_knows_as_many_views_as_tta_has():
    from facekeypoints.config import MAX_TTA_VIEWS
    from facekeypoints.inference.tta import VIEWS

    assert MAX_TTA_VIEWS == len(VIEWS)
