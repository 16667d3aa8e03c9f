"""The Dagster code location: definitions load, and the webserver serves the asset graph on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

REPO = Path(__file__).resolve().parents[1]


def test_definitions_load() -> None:
    from assets.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    # one asset per warehouse table: the UI lineage is the table lineage
    from vlmfr_data.catalog import DATA_TABLES

    assert {t.name for t in DATA_TABLES} <= keys
    assert {"french_corpora", "quality_report"} <= keys
    graph = defs.resolve_asset_graph()
    report_parents = {k.to_user_string() for k in graph.get(dg.AssetKey("quality_report")).parent_keys}
    assert "french_corpora" in report_parents  # the report is written after the corpora


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webserver_serves_asset_graph(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster"), "VLMFR_HOME": str(tmp_path / "home")}
    os.makedirs(env["DAGSTER_HOME"])
    # through `make ui`'s launcher (webserver + daemon), as a user runs it
    proc = subprocess.Popen(
        [sys.executable, "-m", "assets.ui", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    query = "{ assetNodes { assetKey { path } groupName description } }"
    try:
        nodes = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                reply = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=5)
                data = reply.json().get("data") or {}
                if data.get("assetNodes"):
                    nodes = data["assetNodes"]
                    break
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(1)
        assert nodes is not None, f"webserver did not answer; exit={proc.poll()}"
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert by_key["samples"]["groupName"] == "ingest"
        assert by_key["segments"]["description"]
    finally:
        proc.send_signal(signal.SIGTERM)  # what `kill` or a service manager sends; Ctrl-C sends SIGINT
        try:
            exit_code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError("the UI launcher did not stop within 60 s of SIGTERM") from None
    assert exit_code == 0
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):  # nothing listens any more
        s.connect(("127.0.0.1", port))


def test_every_partition_maps_to_existing_upstream_partitions() -> None:
    """Automation backfills fail at run time on a dependency whose partitions do not line up (a tier model
    evaluation read `translations` through an identity mapping: 'depends on non-existent partitions')."""
    from assets.definitions import defs

    graph = defs.resolve_asset_graph()
    broken = []
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is None:
            continue
        for parent in node.parent_keys:
            if graph.get(parent).partitions_def is None:
                continue
            for partition in node.partitions_def.get_partition_keys():
                result = graph.get_parent_partition_keys_for_child(partition, parent, key)
                if len(result.required_but_nonexistent_subset):
                    broken.append(f"{key.to_user_string()}[{partition}] -> {parent.to_user_string()}")
    assert not broken, broken[:5]
