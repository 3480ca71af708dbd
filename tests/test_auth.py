"""Sign-in and roles: argon2 accounts on both backends, the permission matrix, grid scopes, CLI."""

from __future__ import annotations

import io
import sys
import types
from datetime import datetime

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from gis import auth, store
from gis.auth import User
from gis.cli import admin, main
from gis.core.errors import GridLensError, InputError
from gis.store import casework

T0 = datetime(2025, 1, 1)
L1_A, L1_B = "140581001001000", "140581001002000"
L2_A1, L2_A2, L2_B1 = "140581001001100", "140581001001200", "140581001002100"
MICRO_A11, MICRO_B12 = "140581001001101", "140581001002102"


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    """Argon2id with small parameters: the same code path, milliseconds instead of 50 ms each."""
    monkeypatch.setattr(
        auth.accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1)
    )
    monkeypatch.delenv(auth.AUTH_ENV, raising=False)


@pytest.fixture
def grids_engine(engine, tiny_grids):
    store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=T0, created_by="t"))
    return engine


def stored_hash(engine, username: str) -> str:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT password_hash FROM users WHERE username = :u"), {"u": username}
        ).scalar_one()


def test_create_authenticate_disable(engine):
    user = auth.create_user(
        engine, "wang.li", "correct horse", "analyst", display_name="王丽", created_by="root"
    )
    assert user == auth.get_user(engine, "wang.li")
    assert (user.role, user.grid_codes, user.active, user.label) == ("analyst", (), True, "王丽")
    assert auth.authenticate(engine, "wang.li", "correct horse") == user
    assert auth.authenticate(engine, " wang.li ", "correct horse") == user
    assert auth.authenticate(engine, "wang.li", "correct horsE") is None
    assert auth.authenticate(engine, "wang.li", "") is None
    assert auth.authenticate(engine, "nobody", "correct horse") is None
    assert auth.get_user(engine, "nobody") is None

    auth.set_active(engine, "wang.li", False, by="root")
    assert auth.authenticate(engine, "wang.li", "correct horse") is None
    assert auth.get_user(engine, "wang.li").active is False
    auth.set_active(engine, "wang.li", True, by="root")
    assert auth.authenticate(engine, "wang.li", "correct horse") == user

    auth.set_password(engine, "wang.li", "battery staple", by="root")
    assert auth.authenticate(engine, "wang.li", "correct horse") is None
    assert auth.authenticate(engine, "wang.li", "battery staple") == user


def test_hash_is_argon2id_and_never_listed(engine):
    auth.create_user(engine, "li", "s3cret-password", "leader", created_by="root")
    hashed = stored_hash(engine, "li")
    assert hashed.startswith("$argon2id$")
    assert "s3cret-password" not in hashed
    listing = auth.list_users(engine)
    assert list(listing.columns) == [
        "id",
        "username",
        "display_name",
        "role",
        "grid_codes",
        "active",
        "created_at",
        "created_by",
    ]
    assert listing.iloc[0][["username", "role", "created_by"]].tolist() == ["li", "leader", "root"]
    assert "$argon2" not in listing.to_string()


def test_rehash_on_login_when_parameters_change(engine, monkeypatch):
    auth.create_user(engine, "zhao", "old-params-pw", "analyst", created_by="root")
    before = stored_hash(engine, "zhao")
    stronger = PasswordHasher(time_cost=2, memory_cost=512, parallelism=1)
    monkeypatch.setattr(auth.accounts, "HASHER", stronger)
    assert stronger.check_needs_rehash(before)
    assert auth.authenticate(engine, "zhao", "wrong-password") is None
    assert stored_hash(engine, "zhao") == before  # a failed sign-in changes nothing
    assert auth.authenticate(engine, "zhao", "old-params-pw") is not None
    after = stored_hash(engine, "zhao")
    assert after != before and not stronger.check_needs_rehash(after)
    assert auth.authenticate(engine, "zhao", "old-params-pw") is not None


def test_unknown_user_is_verified_against_a_dummy_hash(engine, monkeypatch):
    calls = []

    class Spy(PasswordHasher):
        def verify(self, hash, password):  # noqa: A002 - the library's own parameter name
            calls.append(hash)
            return super().verify(hash, password)

    monkeypatch.setattr(auth.accounts, "HASHER", Spy(time_cost=1, memory_cost=256, parallelism=1))
    auth.create_user(engine, "off", "password-1", "analyst", created_by="root")
    auth.set_active(engine, "off", False, by="root")
    assert auth.authenticate(engine, "ghost", "password-1") is None
    assert auth.authenticate(engine, "off", "password-1") is None
    assert len(calls) == 2 and all(h.startswith("$argon2id$") for h in calls)


def test_duplicate_username_refused_with_nothing_written(engine):
    auth.create_user(engine, "chen", "first-password", "analyst", created_by="root")
    original = stored_hash(engine, "chen")
    for name in ("chen", "CHEN", " chen "):
        with pytest.raises(InputError, match="already exists"):
            auth.create_user(engine, name, "second-password", "admin", created_by="root")
    assert store.count_rows(engine, "users") == 1
    assert stored_hash(engine, "chen") == original
    assert auth.get_user(engine, "chen").role == "analyst"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "ann", "password": "short", "role": "analyst"}, "at least 8"),
        ({"username": "ann", "password": "long-enough", "role": "boss"}, "unknown role 'boss'"),
        ({"username": " ", "password": "long-enough", "role": "analyst"}, "empty"),
        ({"username": "a b", "password": "long-enough", "role": "analyst"}, "no spaces"),
        (
            {"username": "ann", "password": "long-enough", "role": "analyst", "grid_codes": [L1_A]},
            "only to role grid_admin",
        ),
        ({"username": "ann", "password": "long-enough", "role": "grid_admin"}, "at least one"),
        (
            {
                "username": "ann",
                "password": "long-enough",
                "role": "grid_admin",
                "grid_codes": ["9"],
            },
            "unknown grid code 9",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(grids_engine, kwargs, message):
    with pytest.raises(InputError, match=message) as err:
        auth.create_user(grids_engine, created_by="root", **kwargs)
    assert "\n" not in str(err.value)
    assert store.count_rows(grids_engine, "users") == 0


def test_updates_of_unknown_users_and_short_passwords(engine):
    with pytest.raises(InputError, match="unknown user 'nobody'"):
        auth.set_password(engine, "nobody", "long-enough", by="root")
    with pytest.raises(InputError, match="unknown user 'nobody'"):
        auth.set_active(engine, "nobody", False, by="root")
    auth.create_user(engine, "sun", "long-enough", "analyst", created_by="root")
    before = stored_hash(engine, "sun")
    with pytest.raises(InputError, match="at least 8"):
        auth.set_password(engine, "sun", "1234567", by="root")
    assert stored_hash(engine, "sun") == before


def test_last_active_admin_cannot_be_disabled(engine):
    auth.create_user(engine, "root", "root-password", "admin", created_by="setup")
    with pytest.raises(InputError, match="last active admin"):
        auth.set_active(engine, "root", False, by="root")
    auth.create_user(engine, "root2", "root-password", "admin", created_by="root")
    auth.set_active(engine, "root", False, by="root2")
    assert auth.get_user(engine, "root").active is False


EXPECTED = {
    "analyst": {"view", "view_cases", "assess"},
    "leader": {
        "view",
        "save_plan",
        "view_reports",
        "view_cases",
        "approve_cases",
        "supervise_cases",
        "assess",
    },
    "grid_admin": {"view", "edit_grids", "view_cases"},
    "admin": set(auth.ACTIONS),
    "dispatcher": {
        "view",
        "view_cases",
        "report_cases",
        "dispatch_cases",
        "approve_cases",
        "assess",
    },
    "handler": {"view_cases", "handle_cases"},
    "grid_worker": {"view_cases", "report_cases", "verify_cases"},
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_permission_matrix(role):
    user = User(1, "u", None, role)
    for action in auth.ACTIONS:
        assert auth.can(user, action) is (action in EXPECTED[role]), action
        if action in EXPECTED[role]:
            auth.require(user, action)
        else:
            with pytest.raises(auth.PermissionDenied, match=f"'u' \\({role}\\) may not"):
                auth.require(user, action)
    disabled = User(1, "u", None, role, active=False)
    assert not any(auth.can(disabled, a) for a in auth.ACTIONS)
    with pytest.raises(auth.PermissionDenied, match="disabled"):
        auth.require(disabled, "view")


def test_permission_edge_cases():
    assert set(auth.PERMISSIONS) == set(EXPECTED)
    assert not auth.can(None, "view")
    with pytest.raises(auth.PermissionDenied, match="sign in"):
        auth.require(None, "view")
    with pytest.raises(ValueError, match="unknown action"):
        auth.can(User(1, "u", None, "admin"), "fly")
    assert issubclass(auth.PermissionDenied, GridLensError)


def test_grid_admin_edits_only_inside_its_grids(grids_engine):
    engine = grids_engine
    admin_a = auth.create_user(
        engine, "ga", "grid-password", "grid_admin", grid_codes=[L1_A], created_by="root"
    )
    admin_l2 = auth.create_user(
        engine, "gb", "grid-password", "grid_admin", grid_codes=f"{L2_B1},{L2_A2}", created_by="r"
    )
    assert auth.get_user(engine, "gb").grid_codes == (L2_B1, L2_A2)
    parents = auth.grid_parents(engine)
    assert parents[MICRO_A11] == L2_A1 and parents[L1_A] is None
    inside_a = {L1_A, L2_A1, L2_A2, MICRO_A11}
    for code in parents:
        assert auth.can_edit_grid(admin_a, code, parents) is code.startswith(L1_A[:12]), code
    assert all(auth.can_edit_grid(admin_a, c, parents) for c in inside_a)
    assert not auth.can_edit_grid(admin_a, L1_B, parents)
    assert not auth.can_edit_grid(admin_a, MICRO_B12, parents)
    assert auth.can_edit_grid(admin_l2, MICRO_B12[:-2] + "01", parents)
    assert not auth.can_edit_grid(admin_l2, L1_B, parents)  # the parent is outside
    assert not auth.can_edit_grid(admin_l2, MICRO_A11, parents)  # a sibling l2 is outside
    with pytest.raises(auth.PermissionDenied, match=f"not {L1_B}"):
        auth.require_grid_edit(admin_a, L1_B, parents)
    auth.require_grid_edit(admin_a, MICRO_A11, parents)
    # a new grid is inside when its intended parent is
    assert auth.can_edit_grid(admin_a, "new", {**parents, "new": L2_A1})
    assert not auth.can_edit_grid(admin_a, "new", parents)

    boss = User(None, "boss", None, "admin")
    assert all(auth.can_edit_grid(boss, c, parents) for c in parents)
    for role in ("analyst", "leader"):
        assert not auth.can_edit_grid(User(1, "x", None, role, (L1_A,)), L1_A, parents)
    assert not auth.can_edit_grid(
        User(1, "ga", None, "grid_admin", (L1_A,), active=False), L1_A, parents
    )


def test_grid_within_any_hierarchy():
    parents = {"Ward 3": None, "Precinct 3-1": "Ward 3", "Precinct 4-1": "Ward 4", "Ward 4": None}
    assert auth.grid_within("Precinct 3-1", {"Ward 3"}, parents)
    assert not auth.grid_within("Precinct 4-1", {"Ward 3"}, parents)
    assert auth.grid_within("Ward 3", {"Ward 3"}, {})
    assert not auth.grid_within("a", {"z"}, {"a": "b", "b": "a"})  # a cycle ends


def test_auth_off_gives_a_desktop_admin(monkeypatch):
    assert auth.auth_enabled() and auth.current_desktop_user() is None
    for value, enabled in [("off", False), (" OFF ", False), ("0", False), ("on", True)]:
        monkeypatch.setenv("GRIDLENS_AUTH", value)
        assert auth.auth_enabled() is enabled, value
    monkeypatch.setenv("GRIDLENS_AUTH", "of")  # a typo keeps sign-in on
    assert auth.auth_enabled()
    monkeypatch.setenv("GRIDLENS_AUTH", "off")
    desk = auth.current_desktop_user()
    assert (desk.username, desk.role, desk.active) == ("desktop", "admin", True)
    assert all(auth.can(desk, a) for a in auth.ACTIONS)
    assert auth.can_edit_grid(desk, L1_A, {})


def test_demo_users_one_per_role(grids_engine):
    engine = grids_engine
    accounts = auth.ensure_demo_users(engine)
    assert [(a.username, a.role, a.status) for a in accounts] == [
        ("analyst", "analyst", "created"),
        ("leader", "leader", "created"),
        ("gridadmin", "grid_admin", "created"),
        ("admin", "admin", "created"),
        ("dispatcher", "dispatcher", "created"),
        ("handler", "handler", "created"),
        ("gridworker", "grid_worker", "created"),
    ]
    assert auth.DEMO_PASSWORDS == {
        "analyst": "analyst-demo",
        "leader": "leader-demo",
        "gridadmin": "gridadmin-demo",
        "admin": "admin-demo",
        "dispatcher": "dispatcher-demo",
        "handler": "handler-demo",
        "gridworker": "gridworker-demo",
    }
    for name, password in auth.DEMO_PASSWORDS.items():
        assert auth.authenticate(engine, name, password) is not None, name
    gridadmin = auth.get_user(engine, "gridadmin")
    assert gridadmin.grid_codes == (L1_A,)  # the first level-1 grid
    assert auth.get_user(engine, "gridworker").grid_codes == (L1_A,)
    assert casework.user_department(engine, "handler") == "street_team"
    assert casework.user_department(engine, "dispatcher") is None
    assert set(auth.list_users(engine)["created_by"]) == {"demo"}

    # a second run never resets or re-enables an account (issue 19: demo accounts), demo-made
    # or not: a changed password stays, a disabled account stays disabled
    auth.set_password(engine, "leader", "changed-password", by="x")
    auth.set_active(engine, "analyst", False, by="admin")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET created_by = 'ops' WHERE username = 'admin'"))
    auth.set_password(engine, "admin", "real-admin-pw", by="ops")
    again = {a.username: a.status for a in auth.ensure_demo_users(engine, [L2_B1])}
    assert set(again.values()) == {"kept"}
    assert auth.authenticate(engine, "leader", "leader-demo") is None
    assert auth.authenticate(engine, "leader", "changed-password") is not None
    assert auth.authenticate(engine, "analyst", "analyst-demo") is None
    assert not auth.get_user(engine, "analyst").active
    assert auth.authenticate(engine, "admin", "real-admin-pw") is not None
    assert auth.get_user(engine, "gridadmin").grid_codes == (L1_A,)
    assert store.count_rows(engine, "users") == 7


def test_demo_users_need_grids(engine):
    with pytest.raises(InputError, match="level-1"):
        auth.ensure_demo_users(engine)
    assert store.count_rows(engine, "users") == 0


# --------------------------------------------------------------------------- CLI


def cli(monkeypatch, capsys, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, needle: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gridlens: error: "), err
    assert needle in lines[0], err


def test_cli_users_round_trip(grids_engine, monkeypatch, capsys):
    db = ["--db", grids_engine.url.render_as_string(hide_password=False)]
    code, out, _ = cli(
        monkeypatch,
        capsys,
        "users",
        "add",
        "alice",
        "--role",
        "grid_admin",
        "--grid",
        L1_A,
        L2_B1,
        "--display-name",
        "Alice Liu",
        "--password-stdin",
        "--by",
        "ops",
        *db,
        stdin="alice-password\n",
    )
    assert code == 0 and "created user alice (role grid_admin" in out
    assert auth.authenticate(grids_engine, "alice", "alice-password").grid_codes == (L1_A, L2_B1)
    assert auth.list_users(grids_engine)["created_by"].tolist() == ["ops"]

    code, out, _ = cli(monkeypatch, capsys, "users", "add", "hank", "--role", "handler",
                       "--department", "pcs", "--password-stdin", *db, stdin="hank-password\n")  # fmt: skip
    assert code == 0 and "department pcs" in out
    assert casework.user_department(grids_engine, "hank") == "pcs"
    code, _, err = cli(monkeypatch, capsys, "users", "add", "hal", "--role", "handler",
                       "--password-stdin", *db, stdin="hal-password\n")  # fmt: skip
    assert code == 1 and "needs --department" in err and auth.get_user(grids_engine, "hal") is None

    code, out, _ = cli(monkeypatch, capsys, "users", "list", *db)
    assert code == 0 and "alice" in out and "Alice Liu" in out and "grid_admin" in out
    assert "$argon2" not in out and "alice-password" not in out

    code, out, _ = cli(
        monkeypatch,
        capsys,
        "users",
        "passwd",
        "alice",
        "--password-stdin",
        *db,
        stdin="new-pw-123\n",
    )
    assert code == 0 and "new-pw-123" not in out
    assert auth.authenticate(grids_engine, "alice", "new-pw-123") is not None

    assert cli(monkeypatch, capsys, "users", "disable", "alice", *db)[0] == 0
    assert auth.authenticate(grids_engine, "alice", "new-pw-123") is None
    assert "no" in cli(monkeypatch, capsys, "users", "list", *db)[1]
    assert cli(monkeypatch, capsys, "users", "enable", "alice", *db)[0] == 0
    assert auth.authenticate(grids_engine, "alice", "new-pw-123") is not None

    # prompted twice with getpass when there is no --password-stdin
    typed = iter(["typed-password", "typed-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert cli(monkeypatch, capsys, "users", "add", "bob", "--role", "leader", *db)[0] == 0
    assert auth.authenticate(grids_engine, "bob", "typed-password").role == "leader"


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["add", "alice", "--role", "analyst", "--password-stdin"], "other-pass\n", "already"),
        (["add", "carol", "--role", "boss", "--password-stdin"], "long-enough\n", "unknown role"),
        (["add", "carol", "--role", "analyst", "--password-stdin"], "short\n", "at least 8"),
        (["add", "carol", "--role", "analyst", "--password-stdin"], "", "no password"),
        (["add", "carol", "--role", "grid_admin", "--password-stdin"], "long-enough\n", "--grid"),
        (["passwd", "nobody", "--password-stdin"], "long-enough\n", "unknown user 'nobody'"),
        (["disable", "nobody"], None, "unknown user 'nobody'"),
        (["enable", "nobody"], None, "unknown user 'nobody'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, monkeypatch, capsys, args, stdin, needle):
    db = ["--db", str(tmp_path / "u.db")]
    assert cli(monkeypatch, capsys, "init", *db)[0] == 0  # only init/demo create a database
    assert cli(monkeypatch, capsys, "users", "add", "alice", "--role", "analyst",
               "--password-stdin", *db, stdin="alice-password\n")[0] == 0  # fmt: skip
    code, _, err = cli(monkeypatch, capsys, "users", *args, *db, stdin=stdin)
    assert code == 1
    one_line_error(err, needle)
    assert store.count_rows(store.open_store(db[1]), "users") == 1


def test_cli_password_mismatch(tmp_path, monkeypatch, capsys):
    typed = iter(["first-password", "other-password"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert cli(monkeypatch, capsys, "init", "--db", str(tmp_path / "d.db"))[0] == 0
    code, _, err = cli(
        monkeypatch,
        capsys,
        "users",
        "add",
        "dan",
        "--role",
        "admin",
        "--db",
        str(tmp_path / "d.db"),
    )
    assert code == 1
    one_line_error(err, "do not match")


def test_cli_demo_creates_and_prints_demo_accounts(tmp_path, tiny_grids, monkeypatch, capsys):
    """``gridlens demo`` wiring, with a stub district so the test stays fast."""
    from gis import demo

    stub = types.SimpleNamespace(seed=7, truth={})
    monkeypatch.setattr(demo, "generate_district", lambda seed, track_days: stub)

    def fake_load(engine, district):
        return {
            "grids": store.save_frame(engine, "grids", tiny_grids.assign(version=1, valid_from=T0))
        }

    monkeypatch.setattr(demo, "load_demo", fake_load)
    # the demo's basemap goes to tmp, not static/basemap/district.pmtiles in the checkout: that
    # file is the app's basemap, which every page test (on any xdist worker) reads
    basemap = tmp_path / "static" / "basemap" / "district.pmtiles"
    monkeypatch.setattr(admin, "default_basemap_path", lambda: basemap)
    db = tmp_path / "demo.db"
    code, out, err = cli(monkeypatch, capsys, "demo", "--seed", "7", "--db", str(db))
    assert code == 0, err
    assert f"offline basemap {basemap}" in out and basemap.is_file()
    for name, password in auth.DEMO_PASSWORDS.items():
        assert name in out and password in out
    engine = store.open_store(str(db))
    assert auth.get_user(engine, "gridadmin").grid_codes == (L1_A,)
    assert auth.authenticate(engine, "admin", "admin-demo").role == "admin"
