from pathlib import Path

import pytest

from model.synthetic import write_tiny_shards


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory) -> Path:
    return write_tiny_shards(tmp_path_factory.mktemp("graphs"))
