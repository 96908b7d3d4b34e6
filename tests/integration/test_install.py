"""What `pip install` reads from setup.py: the GPU extra pulls TensorFlow's CUDA build."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def extras(tmp_path):
    """`{extra: [requirement, ...]}` as setuptools writes them for pip (requires.txt)."""
    subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True)
    sections, current = {}, ""
    with open(tmp_path / "modelzoo.egg-info" / "requires.txt") as f:
        for line in filter(None, (line.strip() for line in f)):
            if line.startswith("["):
                current = line.strip("[]")
            else:
                sections.setdefault(current, []).append(line)
    return sections


def test_the_gpu_extra_installs_tensorflow_with_cuda_at_the_cpu_builds_version(tmp_path):
    requirements = extras(tmp_path)
    (tensorflow,) = [r for r in requirements[""] if r.startswith("tensorflow~=")]
    assert requirements["gpu"] == [tensorflow.replace("tensorflow", "tensorflow[and-cuda]", 1)]
