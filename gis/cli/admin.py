"""``gridlens init | demo | status | migrate``: set up, fill and inspect the database."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gis import auth, demo, store
from gis.cli._common import engine_from_args
from gis.cli.basemap import build_district_basemap, default_basemap_path
from gis.core.errors import GridLensError
from gis.demo.cases import load_demo_cases


def cmd_init(args) -> int:
    engine = engine_from_args(args, create=True)
    deps, classes = store.init_db(engine, args.taxonomy, args.departments)
    print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
    print(f"loaded {deps} departments and {classes} taxonomy classes")
    return 0


def _ensure_basemap(engine, args) -> None:
    """Build the demo's offline basemap when it is missing (a fresh checkout, an old database)."""
    if not args.no_basemap and not default_basemap_path().exists():
        info = build_district_basemap(engine, [], default_basemap_path())
        print(f"offline basemap {info.pmtiles} ({info.n_tiles} tiles)")


def cmd_demo(args) -> int:
    engine = engine_from_args(args, create=True)
    if not args.force and store.count_rows(engine, "grids") > 0:
        seed = store.get_meta(engine, "demo_seed")
        if seed is not None and int(seed) == args.seed:
            print(f"demo district (seed {args.seed}) is already loaded; --force reloads it")
            _ensure_basemap(engine, args)
            return 0
        if args.if_empty:
            print("the database already holds grids; the demo was not loaded (--force replaces)")
            return 0
        raise GridLensError(
            "the database already holds grids; use --force to replace them with the demo"
        )
    store.init_db(engine)
    t0 = time.perf_counter()
    district = demo.generate_district(seed=args.seed, track_days=args.track_days)
    t1 = time.perf_counter()
    written = demo.load_demo(engine, district)
    written.update(load_demo_cases(engine, seed=args.seed))
    accounts = auth.ensure_demo_users(engine)
    t2 = time.perf_counter()
    truth_path = Path(args.truth_out) if args.truth_out else None
    if truth_path is None and engine.dialect.name == "sqlite" and engine.url.database:
        truth_path = Path(engine.url.database).with_name("demo_truth.json")
    if truth_path is not None:
        truth_path.write_text(json.dumps(district.truth, ensure_ascii=False, indent=2))
    counts = ", ".join(f"{k} {v:,}" for k, v in written.items())
    print(f"demo district seed {args.seed}: {counts}")
    if not args.no_basemap:
        info = build_district_basemap(engine, [], default_basemap_path())
        print(f"offline basemap {info.pmtiles} ({info.n_tiles} tiles)")
    print(f"generated in {t1 - t0:.1f} s, stored in {t2 - t1:.1f} s")
    if truth_path is not None:
        print(f"planted truth: {truth_path}")
    for acc in accounts:
        note = "" if acc.status != "kept" else " (existing account kept, password unchanged)"
        print(f"demo account {acc.username:10s} role {acc.role:10s} password {acc.password}{note}")
    return 0


def cmd_status(args) -> int:
    engine = store.open_store(args.db, create=False, migrate_to_head=False)
    info = store.summary(engine) if store.migrate.current(engine) else {"revision": None}
    for key, value in info.items():
        print(f"{key:14s} {value}")
    return 0


def cmd_migrate(args) -> int:
    engine = store.open_store(args.db, create=False, migrate_to_head=False)
    if args.direction == "up":
        store.migrate.upgrade(engine, args.revision or "head")
    else:
        store.migrate.downgrade(engine, args.revision or "-1")
    print(f"schema revision: {store.migrate.current(engine)}")
    return 0


def add_commands(sub, common: argparse.ArgumentParser) -> None:
    """Add ``init``, ``demo``, ``status`` and ``migrate`` to the ``gridlens`` subparsers."""
    p = sub.add_parser("init", parents=[common], help="create/migrate the database, load taxonomy")
    p.add_argument("--taxonomy", help="taxonomy CSV (default data/taxonomy.csv)")
    p.add_argument("--departments", help="departments CSV (default data/departments.csv)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("demo", parents=[common], help="generate and load the demo district")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--track-days", type=int, default=14, help="days of patrol GPS tracks")
    p.add_argument("--force", action="store_true", help="replace grids already in the database")
    p.add_argument(
        "--if-empty",
        action="store_true",
        help="load only into a database without grids; otherwise leave it alone (exit 0)",
    )
    p.add_argument("--truth-out", help="where to write the planted truth JSON")
    p.add_argument(
        "--no-basemap",
        action="store_true",
        help="do not build the offline basemap static/basemap/district.pmtiles",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("status", parents=[common], help="backend, schema revision, row counts")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("migrate", parents=[common], help="move the schema up or down")
    p.add_argument("direction", choices=["up", "down"])
    p.add_argument("--revision", help="target revision (default: head / one step down)")
    p.set_defaults(func=cmd_migrate)
