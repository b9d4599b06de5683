import sys
from pathlib import Path

import pytest

# Tests import the packages and jobs/ from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="session")
def local_ray():
    """A Ray instance of this test session's own: a plain ray.init() would join any head running on the machine."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", logging_level="WARNING")
    yield ray
    ray.shutdown()
