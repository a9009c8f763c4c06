import hdbscan
import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from clustering.config import HdbscanConfig
from clustering.errors import UserInputError
from clustering.model.density import fit_density, relative_validity, warm_up
from clustering.pipeline import run
from tests.profiles import quick_preset


@pytest.fixture(scope="module")
def blobs():
    X, truth = make_blobs(1500, 3, centers=[[0, 0, 0], [8, 8, 8], [0, 8, 0]], cluster_std=1.0, random_state=3)
    noise = np.random.default_rng(0).uniform(-6, 14, size=(60, 3))
    return np.vstack([X, noise]), np.concatenate([truth, np.full(60, -1)])


def test_relative_validity_matches_the_hdbscan_package(blobs):
    X, _ = blobs
    model = hdbscan.HDBSCAN(min_cluster_size=40, gen_min_span_tree=True).fit(X)
    ours = relative_validity(model.minimum_spanning_tree_.to_numpy(), model.labels_)
    assert ours == pytest.approx(model.relative_validity_, rel=1e-12)


def test_keep_policy_leaves_noise_as_its_own_label(blobs):
    X, truth = blobs
    result = fit_density(X, HdbscanConfig(min_cluster_size=40, noise_policy="keep"), random_state=0)
    assert result.noise_before > 0 and result.noise_after == result.noise_before
    assert (result.labels == -1).sum() == (result.raw_labels == -1).sum()
    kept = result.raw_labels >= 0
    assert adjusted_rand_score(truth[kept], result.raw_labels[kept]) > 0.95
    assert not result.inferred.any()


@pytest.mark.parametrize("policy", ["random_forest", "nearest"])
def test_reassigning_policies_leave_no_noise_and_flag_it(blobs, policy):
    X, truth = blobs
    result = fit_density(X, HdbscanConfig(min_cluster_size=40, noise_policy=policy), random_state=0)
    assert result.noise_after == 0 and (result.labels >= 0).all()
    np.testing.assert_array_equal(result.inferred, result.raw_labels == -1)
    planted = truth >= 0
    assert adjusted_rand_score(truth[planted], result.labels[planted]) > 0.95


def test_other_metrics_use_the_hdbscan_package(blobs):
    X, truth = blobs
    result = fit_density(X, HdbscanConfig(min_cluster_size=40, metric="manhattan"), random_state=0)
    assert adjusted_rand_score(truth[truth >= 0], result.labels[truth >= 0]) > 0.95
    assert np.isfinite(result.relative_validity)


def test_exact_dbcv_runs_on_at_most_5000_rows():
    X, _ = make_blobs(6000, 2, centers=3, cluster_std=0.5, random_state=0)
    result = fit_density(X, HdbscanConfig(min_cluster_size=100), random_state=0)
    assert result.dbcv_rows == 5000
    assert -1 <= result.dbcv <= 1


def test_same_seed_same_labels(blobs):
    X, _ = blobs
    config = HdbscanConfig(min_cluster_size=40)
    first = fit_density(X, config, random_state=1).labels
    np.testing.assert_array_equal(first, fit_density(X, config, random_state=1).labels)


def test_all_noise_is_a_user_error():
    X = np.random.default_rng(0).uniform(size=(50, 2))
    with pytest.raises(UserInputError, match="HDBSCAN found no segment"):
        fit_density(X, HdbscanConfig(min_cluster_size=45, min_samples=40), random_state=0)


def test_warm_up_runs_the_compiled_path():
    labels = warm_up()
    assert sorted(set(labels[:30])) == [labels[0]] and sorted(set(labels[30:])) == [labels[30]]
    assert labels[0] != labels[30] and (labels >= 0).all()


def test_demo_stores_archetypes_found_and_random_forest_leaves_no_noise(demo_sheets):
    config = quick_preset("store")  # 3 stability refits of HDBSCAN, not 20: stability is not checked here
    config.datasets = {"internal": config.datasets["internal"]}
    config.datasets["internal"].cluster.algorithm = "hdbscan"
    # the planted archetypes' densities are set apart by store format: weigh it like a numeric column
    config.datasets["internal"].preprocess.categorical_weight = 1.0
    result = run(config, demo_sheets)
    density = result.clustered["internal"].density
    joined = result.assignments.merge(demo_sheets["truth"], on="store_id")
    core = density.raw_labels >= 0
    assert adjusted_rand_score(joined["true_internal"][core], density.raw_labels[core]) >= 0.8
    assert density.noise_before > 0 and density.noise_after == 0
    assert result.assignments["internal_inferred"].sum() == (~core).sum()
    assert not result.assignments["internal_cluster"].str.endswith("0").any()
    metrics = result.clustered["internal"].metrics.set_index("metric")["after"]
    assert metrics["noise share after policy"] == 0 and np.isfinite(metrics["relative validity"])
