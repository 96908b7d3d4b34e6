"""The warm check server: same verdicts as a new process, and no orphaned checks."""

import importlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from modelzoo.export import verify_server
from tests.commands import gone

publish = importlib.import_module("modelzoo.export.publish")


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": 2.0 * x}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = os.path.join(str(tmp_path_factory.mktemp("srv")), "s")
    process = verify_server.start(path, publish.verify_environment(os.environ))
    yield process, path
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def saved(tmp_path):
    module = _Doubler()
    path = str(tmp_path / "model")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    example = {"x": tf.constant([1.0, 2.0]).numpy()}
    spec = {"signature": "serving_default", "example": publish._encode(example),
            "expected": publish._encode({"y": 2 * example["x"]})}
    return path, spec


def _verify(path, spec, server_path, monkeypatch):
    if server_path:
        monkeypatch.setenv("MODELZOO_VERIFY_SERVER", server_path)
    else:
        monkeypatch.delenv("MODELZOO_VERIFY_SERVER", raising=False)
    return publish.verify_step(path, spec, 300)


def test_a_forked_check_gives_the_verdicts_of_a_new_process(server, saved, monkeypatch):
    path, spec = saved
    alone = _verify(path, spec, None, monkeypatch)
    forked = _verify(path, spec, server[1], monkeypatch)
    assert forked == alone
    assert forked["modelzoo_imported"] is False and forked["cuda_visible_devices"] == "-1"
    wrong = {**spec, "expected": publish._encode({"y": [0.0, 0.0]})}
    for server_path in (None, server[1]):
        with pytest.raises(publish.ModelzooError, match="failed verification: verify failed"):
            _verify(path, wrong, server_path, monkeypatch)


def test_an_unreachable_server_falls_back_to_a_new_process(saved, tmp_path, monkeypatch):
    path, spec = saved
    summary = _verify(path, spec, str(tmp_path / "no-such-socket"), monkeypatch)
    assert summary["modelzoo_imported"] is False


def _children(pid):
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_a_publisher_that_goes_away_takes_its_check_with_it(server, saved, tmp_path):
    process, server_path = server
    path, _ = saved
    fifo = str(tmp_path / "spec.json")
    os.mkfifo(fifo)  # the check blocks reading its spec until killed
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(server_path)
    request = {"argv": [path, fifo], "env": publish.verify_environment(os.environ)}
    connection.sendall(json.dumps(request).encode() + b"\n")
    deadline = time.time() + 60
    while not _children(process.pid) and time.time() < deadline:
        time.sleep(0.05)
    (check,) = _children(process.pid)
    connection.close()
    deadline = time.time() + 30
    while os.path.exists(f"/proc/{check}") and time.time() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{check}"), "the check outlived its publisher"
    # The server still answers the next publisher.
    assert publish._run_check([path, fifo + ".missing"],
                              dict(publish.verify_environment(os.environ),
                                   MODELZOO_VERIFY_SERVER=server_path), 60).returncode == 1


STARTER = """
import importlib, os, sys, time
from modelzoo.export import verify_server
publish = importlib.import_module("modelzoo.export.publish")
server = verify_server.start(sys.argv[1], publish.verify_environment(os.environ))
print(server.pid, flush=True)
time.sleep(600)
"""


def test_a_server_and_its_check_end_when_the_program_that_started_it_is_killed(saved, tmp_path):
    path, _ = saved
    socket_path = str(tmp_path / "s")
    starter = subprocess.Popen([sys.executable, "-c", STARTER, socket_path],
                               stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    try:
        server = int(starter.stdout.readline())
        fifo = str(tmp_path / "spec.json")
        os.mkfifo(fifo)  # the check blocks reading its spec
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(socket_path)
        request = {"argv": [path, fifo], "env": publish.verify_environment(os.environ)}
        connection.sendall(json.dumps(request).encode() + b"\n")
        deadline = time.time() + 60
        while not _children(server) and time.time() < deadline:
            time.sleep(0.05)
        (check,) = _children(server)
        starter.kill()  # SIGKILL: the starter runs no clean-up of its own
        starter.wait(timeout=30)
        assert gone(server), "the server outlived the program that started it"
        assert gone(check), "the check outlived its server"
        assert not os.path.exists(socket_path)
        connection.close()
    finally:
        starter.kill()
        starter.wait(timeout=30)
