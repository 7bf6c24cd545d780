"""The intended population (as data) and the population check on features."""

import numpy as np
import pytest

from pneumoscan.models.population import IntendedPopulation, PopulationCheck


def test_intended_population_admits_whole_years_up_to_its_maximum():
    pop = IntendedPopulation(1, 5, ("PA", "AP"), "children")
    assert pop.contains_age(1.0) and pop.contains_age(5.99)
    assert not pop.contains_age(0.99) and not pop.contains_age(6.0) and not pop.contains_age(64)
    assert pop.age_range_text() == "1-5 years"
    assert IntendedPopulation.from_dict(pop.to_dict()) == pop


def test_intended_population_rejects_an_inverted_range():
    with pytest.raises(ValueError, match="min <= max"):
        IntendedPopulation(10, 2)


def _clusters(rng, n, shift):
    return rng.normal(0, 1, (n, 16)) + shift


def test_population_check_refuses_the_other_cluster_and_about_its_target_share_of_inside():
    rng = np.random.default_rng(0)
    inside, outside = _clusters(rng, 400, 0.0), _clusters(rng, 200, 1.5)
    held_inside, held_outside = _clusters(rng, 2000, 0.0), _clusters(rng, 500, 1.5)
    check = PopulationCheck.fit(inside, outside, held_inside[:1000], refused_inside=0.02, fitted_on=["b"])
    # the threshold is the 98th percentile of the held-out inside scores it was set on ...
    assert check.outside(held_inside[:1000]).mean() == pytest.approx(0.02, abs=0.002)
    # ... so fresh inside images are refused at about that rate, and the far cluster nearly always
    assert check.outside(held_inside[1000:]).mean() < 0.05
    assert check.outside(held_outside).mean() > 0.9
    restored = PopulationCheck.from_dict(check.to_dict())
    assert np.allclose(restored.score(held_outside), check.score(held_outside))
    assert restored.summary()["fitted_on"] == ["b"] and "coef" not in restored.summary()


def test_population_check_names_what_it_lacks():
    rng = np.random.default_rng(1)
    with pytest.raises(ValueError, match="at least 5 inside"):
        PopulationCheck.fit(_clusters(rng, 3, 0), _clusters(rng, 10, 1), _clusters(rng, 10, 0))
    with pytest.raises(ValueError, match="refused_inside"):
        PopulationCheck.fit(_clusters(rng, 10, 0), _clusters(rng, 10, 1), _clusters(rng, 10, 0), refused_inside=0.7)
