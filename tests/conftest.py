import os
import sys
from pathlib import Path

import pytest

# Tests import the packages and jobs/ from the repository root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Importing ultralytics does DNS look-ups unless told it is offline (set before any test module imports it).
os.environ["YOLO_OFFLINE"] = "1"
# A plain ray.init() in the test process (Ray Data's, Ray Train's) starts a private instance, never joins one running
# on the machine.
os.environ["RAY_ADDRESS"] = "local"
# One thread per process: the test machine's cores are shared, and torch's default pool spin-waits there (4 tiny
# training steps: 9.4 s with the default threads under load, 0.3 s with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The demo the tests share: small, with a val split and the detection export (tests must not change it).
DEMO_SETTINGS = {"num_videos": 3, "val_fraction": 0.34, "seed": 7, "min_seconds": 6.0, "max_seconds": 7.0,
                 "detection_every": 15}


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The demo dataset of DEMO_SETTINGS (demo.json records them), generated once per session."""
    from pipeline.demo.generate import DemoConfig, generate

    return generate(tmp_path_factory.mktemp("demo"), DemoConfig(**DEMO_SETTINGS), verbose=False)


@pytest.fixture
def subprocess_env() -> dict:
    """os.environ for a subprocess that must start a Ray of its own: the user's RAY_ADDRESS replaced by "local", so
    it joins neither their cluster nor a head found through Ray's temp folder (what ray.init() does without one)."""
    return {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"} | {"RAY_ADDRESS": "local"}


@pytest.fixture
def local_ray():
    """A Ray instance of this test's own (address="local": a plain ray.init() would join any head on the machine).
    Fails when Ray is already running in this process: a test must not pass on an instance someone else set up."""
    import ray

    if ray.is_initialized():
        pytest.fail("Ray was already running in the test process; a test that starts Ray must shut it down "
                    "(use the local_ray fixture)")
    ray.init(address="local", logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True)
def no_ray_left_running():
    """A test that starts Ray outside local_ray leaves it running for the tests after it: fail that test."""
    yield
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
        pytest.fail("the test left Ray running; start Ray only through the local_ray fixture")
