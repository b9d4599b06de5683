import os
import re
import subprocess
from pathlib import Path

import pytest

from model.synthetic import write_tiny_shards
from pipeline.ray_connect import free_port

ROOT = Path(__file__).resolve().parents[2]
SUBMIT = ROOT / "jobs" / "submit.sh"


def submit_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    return env | extra


def test_a_cluster_whose_job_agent_never_answers_is_one_error_line_and_exit_2():
    address = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(["bash", str(SUBMIT), "python", "-c", "pass"], capture_output=True, text=True,
                          timeout=120, env=submit_env(RAY_ADDRESS=address, AGENT_WAIT_S="1"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: no Ray job agent answers at {address} after 1 s — ")
    assert "starting a Ray head" not in done.stdout


@pytest.mark.slow
def test_without_ray_address_it_runs_the_job_on_a_head_of_its_own_and_stops_that_head(tmp_path):
    graphs = write_tiny_shards(tmp_path / "graphs")
    done = subprocess.run(["bash", str(SUBMIT), "python", "-m", "jobs.pretrain", "--graphs", str(graphs),
                           "--run-dir", str(tmp_path / "runs"), "--max-steps", "2", "--batch-size", "4"],
                          capture_output=True, text=True, timeout=480, env=submit_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    temp = re.search(r"temp folder (/tmp/ray-submit-\w+)", done.stdout).group(1)
    head = int(re.search(r"stopping the Ray head it started \(pid (\d+)\)", done.stdout).group(1))
    assert "succeeded" in done.stdout + done.stderr and list((tmp_path / "runs").rglob("state.pt"))
    assert not Path(f"/proc/{head}").exists() and not Path(temp).exists()
    left = subprocess.run(["pgrep", "-f", temp], capture_output=True, text=True).stdout.split()
    assert left == [], f"Ray processes of the script's head still run: {left}"
