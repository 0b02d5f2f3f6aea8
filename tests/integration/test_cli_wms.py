"""`coilyard wms ...` against a real SQLite file, as a person tries the WMS by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.sql import forget_cached_yards
from coilyard.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COILYARD_LAYOUT", str(ROOT / "examples" / "tiny.yaml"))
    url = f"sqlite:///{tmp_path / 'yard.db'}"
    monkeypatch.setenv("COILYARD_DATABASE_URL", url)
    return url


def wms(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["wms", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_receive_putaway_complete_where_history(database: str) -> None:
    assert wms("init")[0] == 0
    code, output = wms("receive", "K1", "--at", "H-FS1", "--weight", "20", "--width", "1.5", "--od", "1.8")
    assert code == 0, output
    code, output = wms("putaway", "K1", "--store", "FS1")
    assert code == 0, output
    assert "FS1-B1-R" in output and "travel" in output and "M000001" in output
    code, output = wms("complete", "M000001", "--carrier", "C1")
    assert code == 0, output
    code, output = wms("where", "K1")
    assert code == 0 and "FS1-B1-R" in output and "in_stock" in output
    code, output = wms("history", "K1")
    assert code == 0
    for what in ("CoilReceived", "MovePlanned", "MoveStarted", "MoveCompleted"):
        assert what in output


def test_the_database_keeps_the_yard_between_runs(database: str) -> None:
    wms("receive", "K1", "--at", "H-FS1", "--weight", "20", "--width", "1.5", "--od", "1.8")
    wms("move", "K1", "FS1-B1-R02-P03-G", "--carrier", "C1")
    from sqlalchemy import create_engine

    forget_cached_yards(create_engine(database))  # a new process would start without a cache
    code, output = wms("where", "K1")
    assert code == 0 and "FS1-B1-R02-P03-G" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("where", "NOPE"), "unknown coil or ingot stack 'NOPE'"),
        (("move", "NOPE", "FS1-B1-R02-P03-G", "--carrier", "C1"), "unknown coil or ingot stack 'NOPE'"),
        (("putaway", "K1", "--store", "FS9"), "unknown store 'FS9'"),
        (("move", "K1", "FS1-B1-R02-P03-U", "--carrier", "C1"), "support"),
        (("complete", "M999999", "--carrier", "C1"), "unknown move 'M999999'"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(database: str, args: tuple[str, ...], message: str) -> None:
    wms("receive", "K1", "--at", "H-FS1", "--weight", "20", "--width", "1.5", "--od", "1.8")
    code, output = wms(*args)
    assert code == 1
    assert message in output
    assert "Traceback" not in output


def test_a_hot_coil_gets_a_cooling_hold(database: str) -> None:
    code, output = wms(
        "receive",
        "K2",
        "--at",
        "HM-X",
        "--weight",
        "22",
        "--width",
        "1.5",
        "--od",
        "1.9",
        "--temperature",
        "310",
    )
    assert code == 0 and "holds: H000001" in output
    code, output = wms("move", "K2", "FS1-B1-R02-P04-G", "--carrier", "C1")
    assert code == 1 and "hot coil" in output
