import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """`reproduce --profile smoke` of every config, once per session, into a temporary results root: the
    tests that check what one experiment's smoke run writes read it here, and must not change it."""
    from experiments import cli

    results = tmp_path_factory.mktemp("smoke_results")
    assert cli.main(["reproduce", "--profile", "smoke", "--results", str(results)]) == 0
    return results
