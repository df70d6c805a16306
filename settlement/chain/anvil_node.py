"""A real anvil node for the tests and ``gridtwin faults``: the binary from the pinned npm
package, on a free local port.

`make test` installs it (``npm ci`` in ``settlement/chain/contracts``). Each node runs on 127.0.0.1
with ``--prune-history`` and HOME pointed at a temporary folder, so it writes nothing under
``~/.foundry`` (anvil otherwise keeps gigabytes of state there).
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

NODE_MODULES = Path(__file__).resolve().parent / "contracts" / "node_modules"
MISSING = "anvil is not installed: run `make test` (it runs npm ci in settlement/chain/contracts)"

_PLATFORMS = {("Linux", "x86_64"): "linux-amd64", ("Linux", "aarch64"): "linux-arm64"}
_PLATFORMS |= {("Darwin", "x86_64"): "darwin-amd64", ("Darwin", "arm64"): "darwin-arm64"}


def anvil_binary() -> Path | None:
    """The anvil executable of the npm package @foundry-rs/anvil-<platform>, or None."""
    suffix = _PLATFORMS.get((platform.system(), platform.machine()))
    candidates = [NODE_MODULES / ".bin" / "anvil"]
    if suffix is not None:
        candidates.insert(0, NODE_MODULES / "@foundry-rs" / f"anvil-{suffix}" / "bin" / "anvil")
    for binary in candidates:
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AnvilNode:
    """An anvil process on 127.0.0.1; use as a context manager or call start/stop.

    Parameters
    ----------
    binary : Path
        The anvil executable (:func:`anvil_binary`).
    extra_args : list of str
        More anvil options (e.g. ``["--state", path]``).
    start_timeout_s : float
        How long to wait for the node to answer [s].
    """

    def __init__(
        self, binary: Path, extra_args: list[str] | None = None, start_timeout_s: float = 20.0
    ) -> None:
        self.binary = binary
        self.extra_args = list(extra_args or [])
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._home = tempfile.TemporaryDirectory(prefix="gridtwin-anvil-")
        self.log_path = Path(self._home.name) / "anvil.log"

    @property
    def url(self) -> str:
        """The node's JSON-RPC URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int | None = None) -> AnvilNode:
        """Start the node (on ``port``, else a free one) and wait until it answers; returns self."""
        for _attempt in range(3):
            self.port = port if port is not None else free_port()
            env = dict(os.environ, HOME=self._home.name, NO_COLOR="1")
            args = [str(self.binary), "--host", "127.0.0.1", "--port", str(self.port)]
            args += ["--prune-history", *self.extra_args]
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self._home.name
                )
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"anvil did not start; its log:\n{self.log_path.read_text()[-2000:]}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout_s
        body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            request = urllib.request.Request(
                self.url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=1.0) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop the node (SIGTERM, then SIGKILL after 5 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def close(self) -> None:
        """Stop the node and delete its temporary HOME."""
        self.stop()
        self._home.cleanup()

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
