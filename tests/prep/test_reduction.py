import numpy as np
import pandas as pd
import prince
import pytest

from clustering.config import PreprocessConfig
from clustering.errors import UserInputError
from clustering.prep.preprocessing import Preprocessor
from clustering.prep.reduction import FAMD


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    n = 2000
    frame = pd.DataFrame(
        {f"x{i}": rng.normal(size=n) * (1 + i) + (i % 3) * rng.normal(size=n) for i in range(5)}
    )
    frame["format"] = rng.choice(["super", "hyper", "convenience"], n)
    frame["urbanicity"] = rng.choice(["urban", "suburban", "rural", "remote"], n, p=[0.4, 0.3, 0.2, 0.1])
    frame["x0"] += (frame["format"] == "hyper") * 3
    return frame


def test_row_coordinates_agree_with_prince(mixed):
    reference = prince.FAMD(n_components=4, random_state=0).fit(mixed).row_coordinates(mixed).to_numpy()
    ours = FAMD(4, random_state=0).fit(mixed, categorical=["format", "urbanicity"]).transform(mixed)
    for j in range(4):
        assert abs(np.corrcoef(reference[:, j], ours[:, j])[0, 1]) >= 0.999


def test_explained_inertia_and_contributions_agree_with_prince(mixed):
    reference = prince.FAMD(n_components=4, random_state=0).fit(mixed)
    famd = FAMD(4, random_state=0).fit(mixed)
    np.testing.assert_allclose(
        famd.explained_inertia_ * 100, reference.percentage_of_variance_[:4], rtol=1e-6
    )
    contributions = famd.variable_contributions()
    np.testing.assert_allclose(contributions.sum(axis=0), 100.0)
    expected = reference.variable_contributions_.loc[contributions.index].to_numpy() * 100
    np.testing.assert_allclose(contributions.to_numpy(), expected, atol=1e-6)
    assert list(contributions.index) == ["x0", "x1", "x2", "x3", "x4", "format", "urbanicity"]


def test_coordinates_are_scaled_by_the_square_root_of_eigenvalues(mixed):
    famd = FAMD(3, random_state=0).fit(mixed)
    coordinates = famd.transform(mixed)
    np.testing.assert_allclose(coordinates.var(axis=0), famd.eigenvalues_, rtol=1e-9)


def test_preprocessor_famd_step(mixed):
    config = PreprocessConfig(
        famd_components=3, log_transform=False, outliers="none", correlation_threshold=None
    )
    preprocessor = Preprocessor(
        config, numeric=[f"x{i}" for i in range(5)], categorical=["format", "urbanicity"]
    )
    matrix = preprocessor.fit_transform(mixed)
    assert matrix.shape == (2000, 3)
    assert preprocessor.feature_names_out_ == ["F1", "F2", "F3"]
    assert len(preprocessor.report_.famd_explained) == 3
    assert "famd" in set(preprocessor.report_.to_frame()["step"])
    assert set(preprocessor.report_.famd_contributions.index) >= {"format", "urbanicity", "x0"}
    np.testing.assert_allclose(preprocessor.transform(mixed), matrix)


def test_pca_and_famd_together_is_a_config_error():
    from clustering.config import config_from_dict

    with pytest.raises(UserInputError, match="either pca_variance or famd_components"):
        config_from_dict({"datasets": {"a": {"preprocess": {"pca_variance": 0.9, "famd_components": 3}}}})
