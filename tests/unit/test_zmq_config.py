"""The bridge config section (bridge.transport inprocess|zmq): one-line errors naming the key."""

import pytest

from edgelam_ns3 import config
from edgelam_ns3.config import ConfigError


@pytest.mark.parametrize("override, message", [
    ("bridge.transport=shm", "config: bridge.transport: Input should be 'inprocess' or 'zmq'"),
    ("bridge.endpoint=udp://1.2.3.4:5", "config: bridge.endpoint: String should match"),
    ("bridge.timeout_s=0", "config: bridge.timeout_s: Input should be greater than 0"),
    ("bridge.transport=zmq", "config: bridge.transport: zmq carries point-to-point networks "
                             "(radio.mode ideal or trace); radio.mode nr runs in-process"),
])
def test_bad_bridge_settings_are_one_line_errors_naming_the_key(override, message):
    with pytest.raises(ConfigError) as err:
        config.load("quickstart", [override])  # quickstart: radio.mode nr
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_bridge_defaults_to_in_process_and_zmq_to_a_private_ipc_endpoint():
    cfg = config.load("quickstart", ["radio.mode=ideal", "bridge.transport=zmq"])
    assert (cfg.bridge.transport, cfg.bridge.endpoint, cfg.bridge.command) == ("zmq", "ipc", None)
    assert config.load("quickstart").bridge.transport == "inprocess"
