"""The parser is assembled from one module per command group, each with ``add_commands``;
every command takes ``--db`` from the same parent parser."""

from __future__ import annotations

import argparse
import re

import pytest

from gis import cli
from gis.cli._common import db_options

#: the shortest valid command line of every command
MINIMAL = {
    "init": ["init"],
    "demo": ["demo"],
    "status": ["status"],
    "migrate": ["migrate", "up"],
    "grids import": ["grids", "import", "g.geojson"],
    "grids validate": ["grids", "validate"],
    "grids export": ["grids", "export", "--out", "g.gpkg"],
    "incidents import": ["incidents", "import", "i.csv"],
    "incidents export": ["incidents", "export", "--out", "i.csv"],
    "tracks import": ["tracks", "import", "t.csv"],
    "coverage": ["coverage", "--out", "c.csv"],
    "gaps": ["gaps", "--out", "g.csv"],
    "users add": ["users", "add", "ann", "--role", "analyst"],
    "users list": ["users", "list"],
    "users passwd": ["users", "passwd", "ann"],
    "users disable": ["users", "disable", "ann"],
    "users enable": ["users", "enable", "ann"],
    "zones": ["zones", "--out", "z.geojson"],
    "brief": ["brief", "--grids", "A,B", "--out", "b.html"],
    "evaluate": ["evaluate", "--plan", "1"],
    "hotspots": ["hotspots"],
    "kde": ["kde"],
    "emerging": ["emerging"],
    "cases import": ["cases", "import", "c.csv"],
    "cases metrics": ["cases", "metrics", "--by", "department", "--out", "m.csv"],
    "cases overdue": ["cases", "overdue"],
    "cases demo": ["cases", "demo"],
    "export-parquet": ["export-parquet", "--out", "f"],
    "aggregate": ["aggregate", "--incidents", "f", "--by", "h3:9", "--out", "a.csv"],
    "basemap build": ["basemap", "build"],
    "report daily": ["report", "daily", "--out", "r.html"],
    "report weekly": ["report", "weekly", "--out", "r.pdf"],
    "report monthly": ["report", "monthly", "--out", "r.xlsx"],
    "report archive": ["report", "archive"],
    "report fetch": ["report", "fetch", "1", "--out", "r.pdf"],
}


def test_every_command_is_registered_once():
    usage = cli.build_parser().format_usage()
    listed = re.search(r"\{([a-z,-]+)\}", usage).group(1).split(",")
    assert sorted(listed) == sorted({argv[0] for argv in MINIMAL.values()})


@pytest.mark.parametrize("command", sorted(MINIMAL))
def test_every_command_takes_db(command):
    args = cli.build_parser().parse_args([*MINIMAL[command], "--db", "x.db"])
    assert args.db == "x.db" and callable(args.func)


@pytest.mark.parametrize("group", cli.GROUPS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_group_adds_only_its_own_commands(group):
    parser = argparse.ArgumentParser(prog="gridlens")
    sub = parser.add_subparsers(dest="command")
    group.add_commands(sub, db_options())
    assert sub.choices and set(sub.choices) <= {argv[0] for argv in MINIMAL.values()}


def test_version_and_missing_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("gridlens ")
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
