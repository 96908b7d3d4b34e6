"""Whether a download can start, asked once before a library retries for minutes."""

import socket


def network_reachable(host="storage.googleapis.com", timeout=5):
    """Whether a TCP connection to `host`, port 443, opens within `timeout` seconds.

    TFDS and Keras retry a failed download for minutes; a failed name lookup
    or connection here says at once that there is no network to download
    from (both TFDS's datasets and Keras's ImageNet weights are served from
    storage.googleapis.com).

    Args:
        host: str. The host name to connect to.
        timeout: float. Seconds to wait for the connection.

    Returns:
        bool.
    """
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
