"""In a real ipykernel 7: the explorer prepares its neighbours on the kernel's loop while idle."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

OPEN = textwrap.dedent("""
    import json, opskit
    from opskit.demo import generate_frames
    from opskit.widgets import retention_explorer
    ds = opskit.Dataset.from_frames(**generate_frames(users=300, seed=3))
    ex = retention_explorer(ds)
    ex._idle_delay = 0.01
    print(json.dumps({"misses": ex._tables.misses, "pending": ex.pending, "status": ex.status_text()}))
""")
READ = ('print(json.dumps({"misses": ex._tables.misses, "pending": ex.pending, '
        '"prepared": ex.prepared, "status": ex.status_text()}))')


def _run(client, code: str, timeout: float = 120) -> dict:
    reply = client.execute_interactive(code, timeout=timeout, output_hook=_collect(out := []))
    assert reply["content"]["status"] == "ok", reply["content"]
    return json.loads("".join(out).strip().splitlines()[-1])


def _collect(out: list[str]):
    def hook(msg):
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
    return hook


@pytest.mark.slow
def test_the_kernel_prepares_the_neighbours_between_cells():
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    km.start_kernel()
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        opened = _run(client, OPEN)
        assert opened["misses"] == 1 and opened["pending"] > 10  # queued, not yet computed
        assert "preparing" in opened["status"]
        after = _run(client, "import asyncio\nawait asyncio.sleep(0.5)\n" + READ)
        assert after["misses"] > 1  # the loop ran steps while the cell awaited
        for _ in range(120):  # between cells the kernel is idle: the queue finishes
            after = _run(client, "import time; time.sleep(0.01)\n" + READ)
            if after["pending"] == 0:
                break
            _run(client, "await asyncio.sleep(0.5)\nprint('{}')")
        assert after["pending"] == 0 and after["misses"] == 1 + after["prepared"] > 10
        assert after["status"].endswith("all views ready")
        # a change now is answered from the memo: no engine call
        changed = _run(client, 'ex.controls["period"].value = "month"\n'
                               'ex.controls["mode"].value = "on_or_after"\n' + READ)
        assert changed["misses"] == after["misses"]
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
