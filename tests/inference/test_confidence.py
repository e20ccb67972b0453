import numpy as np
import pytest

from facekeypoints.inference.confidence import confidence, expected_calibration_error, fit


def test_fit_recovers_a_known_logistic_relation():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 6, 20000)
    p_true = 1 / (1 + np.exp(-(3.0 - 1.5 * d)))
    hit = rng.random(d.size) < p_true
    error = np.where(hit, 1.0, 5.0)  # hits inside tau=2.5, misses outside
    calib = fit(d, error, tau=2.5)
    assert calib["a"] == pytest.approx(3.0, abs=0.15) and calib["b"] == pytest.approx(-1.5, abs=0.08)
    conf = confidence(d, calib)
    assert expected_calibration_error(conf, hit) < 0.02
    assert expected_calibration_error(confidence(d, None), hit) > expected_calibration_error(conf, hit)


def test_fit_refuses_one_sided_data():
    with pytest.raises(ValueError, match="one side"):
        fit(np.ones(100), np.zeros(100), tau=2.5)


def test_fallback_is_one_at_full_agreement_and_decreasing():
    c = confidence(np.array([0.0, 1.0, 3.0]), None)
    assert c[0] == 1.0 and c[0] > c[1] > c[2] > 0
