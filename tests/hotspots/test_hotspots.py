"""Hotspot analytics checked against the reference implementations (esda, scipy, h3).

esda's ``G_Local`` is called with ``permutations=0`` (its first permutation call JIT-compiles
for ~11 s); ``Moran_Local`` permutes once, for the p-value consistency test.
"""

from __future__ import annotations

import math

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from scipy.stats import gaussian_kde, norm

from gis import hotspots as hs
from gis.core.errors import InputError
from gis.core.geometry import local_metric_crs, metric_crs_for_points
from gis.grids import assign_points

esda = pytest.importorskip("esda")
Graph = pytest.importorskip("libpysal.graph").Graph


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def district(demo_small):
    return hs.study_area(demo_small.grids)


@pytest.fixture(scope="module")
def micro_counts(demo_small):
    return hs.count_by_unit(demo_small.incidents, hs.grid_units(demo_small.grids, "micro"))


@pytest.fixture(scope="module")
def h3_counts(demo_small, district):
    return hs.count_by_unit(demo_small.incidents, hs.h3_units(district, 9))


@pytest.fixture(scope="module")
def fishnet_counts(demo_small, district):
    return hs.count_by_unit(demo_small.incidents, hs.fishnet_units(district, 150))


@pytest.fixture(scope="module")
def boston(real_data):
    """Boston 311 illegal parking (131k, real outliers far away) and its 255 precincts."""
    base = real_data / "boston"
    frame = pd.read_csv(
        base / "boston311_illegal_parking_2008_2019.csv.gz", usecols=["lat", "long"]
    )
    points = frame[["long", "lat"]].dropna().to_numpy()
    precincts = gpd.read_file(base / "boston_precincts.geojson").sort_values("WARD_PRECINCT")
    precincts = precincts.rename(columns={"WARD_PRECINCT": "code"}).reset_index(drop=True)
    return points, precincts


def _metric(points_lonlat: np.ndarray, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    tr = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    x, y = tr.transform(points_lonlat[:, 0], points_lonlat[:, 1])
    return np.asarray(x), np.asarray(y)


def _isotropic_scipy_kde(x: np.ndarray, y: np.ndarray, sigma_m: float) -> gaussian_kde:
    """scipy's gaussian_kde with an isotropic kernel of standard deviation ``sigma_m``.

    gaussian_kde's kernel covariance is the data covariance x factor² (affine-equivariant, so
    no rescaling of the data makes it isotropic); setting the cached data covariance to the
    identity makes ``set_bandwidth(sigma)`` give covariance sigma² I exactly.
    """
    k = gaussian_kde(np.vstack([x, y]))
    k._data_covariance = np.eye(2)
    k._data_cho_cov = np.eye(2)
    k.set_bandwidth(sigma_m)
    return k


def _demo_lonlat(demo_small) -> np.ndarray:
    g = demo_small.incidents.geometry
    return np.column_stack([g.x.to_numpy(), g.y.to_numpy()])


# --------------------------------------------------------------------------------------------
# Units and counts


def test_h3_units_cover_the_district_with_zero_count_cells(demo_small, district, h3_counts):
    units = h3_counts
    assert units.attrs["unit_kind"] == "h3" and units.attrs["h3_resolution"] == 9
    # every cell touches the district, and cells whose centre lies outside are included too
    assert shapely.intersects(district, units.geometry.to_numpy()).all()
    centre_mode = h3.h3shape_to_cells(h3.geo_to_h3shape(district), 9)
    assert set(centre_mode) < set(units["unit_id"])
    assert (units["count"] == 0).any()
    # counts equal a plain per-point h3 lookup
    ll = _demo_lonlat(demo_small)
    ref = pd.Series([h3.latlng_to_cell(la, lo, 9) for lo, la in ll]).value_counts()
    got = units.set_index("unit_id")["count"]
    assert got.sum() == len(ll) and units.attrs["n_outside"] == 0
    assert (got.reindex(ref.index) == ref).all()
    idx = hs.unit_index(ll[:100], units)
    expect = [h3.latlng_to_cell(la, lo, 9) for lo, la in ll[:100]]
    assert list(units["unit_id"].to_numpy()[idx]) == expect
    # real area per cell, density per real area
    cell = units["unit_id"].iloc[0]
    assert units["area_km2"].iloc[0] == pytest.approx(h3.cell_area(cell, unit="km^2"))
    np.testing.assert_allclose(units["density_km2"], units["count"] / units["area_km2"])
    assert units["rate_per_1000"].isna().all()


def test_fishnet_cells_on_a_fixed_lattice_and_counted_like_a_spatial_join(
    demo_small, district, fishnet_counts
):
    units = fishnet_counts
    epsg = units.attrs["metric_epsg"]
    assert epsg == 4547  # CGCS2000 GK CM 114E, chosen automatically for Gaoping (112.9E)
    boxes = units.geometry.to_crs(epsg).bounds.to_numpy()
    np.testing.assert_allclose(boxes / 150.0, np.round(boxes / 150.0), atol=1e-6)
    assert shapely.intersects(district, units.geometry.to_numpy()).all()
    assert (units["count"] == 0).any()
    # the same lattice from another area gives the same ids for the same cells
    sub = hs.fishnet_units(demo_small.grids[demo_small.grids["level"] == "l1"].iloc[:1], 150)
    assert set(sub["unit_id"]) <= set(units["unit_id"])
    # integer-key counts equal a geometric spatial join
    pts = demo_small.incidents[["geometry"]]
    joined = gpd.sjoin(pts, units[["unit_id", "geometry"]], predicate="within")
    ref = joined.groupby("unit_id").size()
    got = units.set_index("unit_id")["count"]
    # points exactly on a cell edge may join twice: compare where the join is unambiguous
    assert abs(int(got.sum()) - len(pts)) == 0
    assert (got.reindex(ref.index) - ref).abs().max() <= 1
    assert units["area_km2"].eq(0.0225).all()


def test_grid_units_counts_densities_and_rates(demo_small, micro_counts):
    units = micro_counts
    ref = assign_points(demo_small.incidents.geometry, demo_small.grids)["micro"].value_counts()
    got = units.set_index("unit_id")["count"]
    assert (got.reindex(ref.index).fillna(0) == ref).all()
    assert got.sum() == len(demo_small.incidents)
    np.testing.assert_allclose(
        units["rate_per_1000"], units["count"] / units["population"] * 1000.0
    )
    micro = demo_small.grids[demo_small.grids["level"] == "micro"]
    assert units["area_km2"].sum() == pytest.approx(micro.to_crs(4547).area.sum() / 1e6)


def test_units_from_incident_hull_when_no_district(demo_small):
    ll = _demo_lonlat(demo_small)[::50]
    area = hs.study_area(points=ll)
    assert area.geom_type == "Polygon"
    units = hs.h3_units(ll, 9)  # points: their hull
    counts = hs.count_by_unit(ll, units)
    assert counts["count"].sum() == len(ll) and counts.attrs["n_outside"] == 0
    fish = hs.count_by_unit(ll, hs.fishnet_units(area, 300))
    assert fish["count"].sum() == len(ll)


def test_boston_h3_counts_keep_far_outliers_out(boston):
    points, precincts = boston
    city = hs.study_area(precincts)
    units = hs.h3_units(city, 9)
    counts = hs.count_by_unit(points, units)
    inside = shapely.contains_xy(city, points[:, 0], points[:, 1])
    # every report inside the city is counted; far-off ones (e.g. 34.2N) are not
    assert counts["count"].sum() >= inside.sum()
    assert counts.attrs["n_outside"] > 0
    assert counts.attrs["n_outside"] + counts["count"].sum() == len(points)


# --------------------------------------------------------------------------------------------
# Kernel density


def test_silverman_rule_by_hand_and_robust_to_outliers():
    rng = np.random.default_rng(1)
    x, y = rng.normal(0, 100, 500), rng.normal(0, 50, 500)
    cx, cy = x.mean(), y.mean()
    d = np.hypot(x - cx, y - cy)
    sd = math.sqrt((d**2).mean())
    expect = 0.9 * min(sd, math.sqrt(1 / math.log(2)) * np.median(d)) * 500**-0.2
    assert hs.silverman_bandwidth_m(x, y) == pytest.approx(expect, rel=2e-3)
    # one point 1,000 km away: SD explodes, the median-distance term keeps the rule sane
    xf, yf = np.append(x, 1e6), np.append(y, 1e6)
    far = hs.silverman_bandwidth_m(xf, yf)
    sd_far = math.sqrt(((xf - xf.mean()) ** 2 + (yf - yf.mean()) ** 2).mean())
    assert far < 0.1 * 0.9 * sd_far * 501**-0.2
    w = np.full(500, 2.0)
    assert hs.silverman_bandwidth_m(x, y, w) == pytest.approx(expect * 2**-0.2, rel=2e-3)


@pytest.mark.parametrize("bandwidth_m", [None, 120.0])
def test_kde_gaussian_agrees_with_scipy_gaussian_kde(demo_small, bandwidth_m):
    rng = np.random.default_rng(7)
    ll = _demo_lonlat(demo_small)[rng.choice(len(demo_small.incidents), 20_000, replace=False)]
    res = hs.kde(ll, bandwidth_m=bandwidth_m)
    if bandwidth_m is None:
        assert res.bandwidth_rule == "silverman"
        x, y = _metric(ll, res.epsg)
        assert res.bandwidth_m == pytest.approx(hs.silverman_bandwidth_m(x, y))
    x, y = _metric(ll, res.epsg)
    ref_kde = _isotropic_scipy_kde(x, y, res.bandwidth_m)
    gx, gy = np.meshgrid(res.x_m, res.y_m)
    dens = res.density_km2.ravel()
    dense = np.flatnonzero(dens > 0.01 * dens.max())
    cells = rng.choice(dense, 4000, replace=False)
    ref = ref_kde(np.vstack([gx.ravel()[cells], gy.ravel()[cells]])) * len(x) * 1e6
    assert np.abs(dens[cells] / ref - 1).max() < 0.01
    # the reference is the exact direct sum (checks the isotropic-kernel construction)
    c = cells[:3]
    d2 = (gx.ravel()[c, None] - x) ** 2 + (gy.ravel()[c, None] - y) ** 2
    h = res.bandwidth_m
    direct = np.exp(-d2 / (2 * h * h)).sum(axis=1) / (2 * math.pi * h * h) * 1e6
    np.testing.assert_allclose(ref[:3], direct, rtol=1e-10)
    # integrates to the number of incidents (a 3-bandwidth pad loses < 0.5 %)
    assert res.mass == pytest.approx(len(ll), rel=5e-3)


def test_kde_quartic_mass_weights_and_exact_sum(demo_small):
    ll = _demo_lonlat(demo_small)[::20]
    res = hs.kde(ll, kernel="quartic", bandwidth_m=300.0, cell_m=20.0)
    assert res.mass == pytest.approx(len(ll), rel=1e-9)  # the whole support fits the pad
    w = np.where(np.arange(len(ll)) % 2 == 0, 2.0, 0.5)
    weighted = hs.kde(ll, kernel="quartic", bandwidth_m=300.0, cell_m=20.0, weights=w)
    assert weighted.mass == pytest.approx(w.sum(), rel=1e-9)
    # direct quartic sum at the densest cells
    x, y = _metric(ll, res.epsg)
    gx, gy = np.meshgrid(res.x_m, res.y_m)
    top = np.argsort(res.density_km2.ravel())[-50:]
    d2 = (gx.ravel()[top, None] - x) ** 2 + (gy.ravel()[top, None] - y) ** 2
    u = d2 / 300.0**2
    direct = (np.where(u < 1, 3 / (math.pi * 300.0**2) * (1 - u) ** 2, 0).sum(axis=1)) * 1e6
    np.testing.assert_allclose(res.density_km2.ravel()[top], direct, rtol=0.01)


def test_kde_frame_and_contours(demo_small):
    ll = _demo_lonlat(demo_small)[::10]
    res = hs.kde(ll, bandwidth_m=150.0)
    frame = res.to_frame()
    assert list(frame.columns) == ["x_m", "y_m", "lon", "lat", "density_km2"]
    assert len(frame) == res.density_km2.size and frame.attrs["epsg"] == res.epsg
    assert frame["lon"].between(112.8, 113.1).all() and frame["lat"].between(35.7, 35.9).all()
    bands = res.contours([0.1 * res.density_km2.max(), 0.5 * res.density_km2.max()])
    assert list(bands["level_upper"])[-1] == math.inf
    assert bands.geometry.is_valid.all() and bands.crs.to_epsg() == 4326
    # cells clearly above the lower level lie inside the union of the bands, others outside
    union = shapely.union_all(bands.geometry.to_crs(res.epsg).to_numpy())
    lvl = bands["level"].iloc[0]
    above = frame[frame["density_km2"] > 1.05 * lvl]
    below = frame[frame["density_km2"] < 0.95 * lvl]
    assert shapely.contains_xy(union, above["x_m"], above["y_m"]).mean() > 0.995
    assert shapely.contains_xy(union, below["x_m"], below["y_m"]).mean() < 0.005


def test_kde_on_boston_reports_with_far_outliers(boston):
    points, precincts = boston
    rng = np.random.default_rng(3)
    pts = points[rng.choice(len(points), 20_000, replace=False)]
    city = hs.study_area(precincts)
    epsg = 32619  # UTM 19N: Boston is outside China, so UTM
    assert local_metric_crs(precincts.geometry).to_epsg() == epsg
    x, y = _metric(pts, epsg)
    res = hs.kde(pts, bandwidth_m=200.0, cell_m=40.0, extent=city)
    assert res.epsg == epsg
    minx, miny, maxx, maxy = gpd.GeoSeries([city], crs=4326).to_crs(epsg).total_bounds
    assert res.x_m[0] == pytest.approx(minx + 20.0) and res.y_m[0] == pytest.approx(miny + 20.0)
    # without an area the zone comes from the bulk of the points, not from far-off reports
    assert metric_crs_for_points(pts[:, 0], pts[:, 1]).to_epsg() == epsg
    with pytest.raises(InputError):
        hs.kde(pts, extent=(minx, miny, maxx, maxy))
    gx, gy = np.meshgrid(res.x_m, res.y_m)
    dens = res.density_km2.ravel()
    cells = rng.choice(np.flatnonzero(dens > 0.01 * dens.max()), 2000, replace=False)
    ref = _isotropic_scipy_kde(x, y, 200.0)(np.vstack([gx.ravel()[cells], gy.ravel()[cells]]))
    assert np.abs(dens[cells] / (ref * len(x) * 1e6) - 1).max() < 0.01
    # the robust rule is not blown up by the reports hundreds of kilometres away
    assert (np.abs(y - np.median(y)) > 100_000).any()
    assert hs.silverman_bandwidth_m(x, y) < 1500


# --------------------------------------------------------------------------------------------
# Weights


def test_weights_builders_match_libpysal(micro_counts, fishnet_counts, h3_counts):
    W = hs.queen_weights(micro_counts.geometry)
    ref = Graph.build_contiguity(micro_counts, rook=False).sparse
    assert (W != ref).nnz == 0 and W.diagonal().sum() == 0
    # fishnet: lattice arithmetic equals geometric queen contiguity
    lat = hs.lattice_weights(fishnet_counts["ix"], fishnet_counts["iy"])
    geo = hs.queen_weights(fishnet_counts.geometry.to_crs(4547))
    assert (lat != geo).nnz == 0 and lat.sum(axis=1).max() == 8
    # H3 ring 1 = six neighbours (inside the units), symmetric
    ring = hs.h3_ring_weights(h3_counts["unit_id"])
    assert (ring != ring.T).nnz == 0 and ring.sum(axis=1).max() == 6
    cells = list(h3_counts["unit_id"])
    i = int(np.argmax(np.asarray(ring.sum(axis=1)).ravel()))
    assert {cells[j] for j in ring[i].indices} == set(h3.grid_ring(cells[i], 1))
    # distance band equals libpysal's
    cents = hs.unit_centroids_m(micro_counts)
    band = hs.distance_band_weights(cents, 400.0)
    ref = Graph.build_distance_band(cents, 400.0, binary=True).sparse
    assert (band != ref).nnz == 0


def test_global_moran_and_auto_band(fishnet_counts):
    y = fishnet_counts["count"].to_numpy(float)
    cents = hs.unit_centroids_m(fishnet_counts)
    W = hs.distance_band_weights(cents, 400.0)
    ref = esda.Moran(y, Graph.from_sparse(W), transformation="r", permutations=0)
    i_stat, z = hs.moran_global(y, W)
    assert i_stat == pytest.approx(ref.I, abs=1e-10) and z == pytest.approx(ref.z_rand, abs=1e-8)
    choice = hs.auto_band(y, cents)
    assert choice.start_m == pytest.approx(150.0) and choice.increment_m == pytest.approx(150.0)
    assert choice.rule in {"first_peak", "max_z", "start"}
    zs = choice.z_scores
    k = int(np.flatnonzero(choice.bands_m == choice.band_m)[0])
    if choice.rule == "first_peak":
        assert zs[k] > zs[k - 1] and zs[k] > zs[k + 1]
        assert not any(zs[j] > zs[j - 1] and zs[j] > zs[j + 1] for j in range(1, k))
    else:
        assert zs[k] == np.nanmax(zs)
    # each z is Moran's z for its band
    j = len(zs) - 1
    Wj = hs.distance_band_weights(cents, choice.bands_m[j])
    assert zs[j] == pytest.approx(hs.moran_global(y, Wj)[1])


# --------------------------------------------------------------------------------------------
# Gi*


def _assert_gi_equals_esda(y: np.ndarray, W) -> hs.GiStarResult:
    ours = hs.gi_star(y, W)
    ref = esda.G_Local(y, Graph.from_sparse(W), star=True, transform="B", permutations=0)
    np.testing.assert_allclose(ours.z, ref.Zs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.p, 2 * ref.p_norm, rtol=1e-8, atol=1e-12)  # esda: one-sided
    np.testing.assert_array_equal(ours.n_neighbors, np.diff(W.tocsr().indptr))
    return ours


def test_gi_star_equals_esda_on_demo_units(micro_counts, h3_counts, fishnet_counts):
    for frame, weights in (
        (micro_counts, "queen"),
        (h3_counts, "ring"),
        (fishnet_counts, "queen"),
        (fishnet_counts, "band"),
    ):
        y = frame["count"].to_numpy(float)
        W, _ = hs.unit_weights(frame, weights, band_m=400.0)
        _assert_gi_equals_esda(y, W)


def test_gi_star_equals_esda_on_boston(boston):
    points, precincts = boston
    units = hs.count_by_unit(points, hs.grid_units(precincts.assign(level="l1"), "l1"))
    y = units["count"].to_numpy(float)
    W = hs.queen_weights(units.geometry)
    res = _assert_gi_equals_esda(y, W)  # two harbour-island precincts have no neighbours
    assert (res.n_neighbors == 0).sum() >= 1
    cells = hs.count_by_unit(points, hs.h3_units(hs.study_area(precincts), 9))
    _assert_gi_equals_esda(cells["count"].to_numpy(float), hs.h3_ring_weights(cells["unit_id"]))


def test_fdr_bins_follow_benjamini_hochberg():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(0, 1, 900), rng.normal(4, 1, 100)])
    p = 2 * norm.sf(np.abs(z))
    bins = hs.confidence_bins(z, p)
    for level, alpha in zip((1, 2, 3), hs.GI_ALPHAS, strict=True):
        thr = esda.fdr(p, alpha)
        assert np.array_equal(np.abs(bins) >= level, p <= thr)
    raw = hs.confidence_bins(z, p, fdr=False)
    assert (np.abs(raw) >= np.abs(bins)).all() and (np.abs(raw) > np.abs(bins)).any()
    assert hs.fdr_mask(np.array([0.5, 0.9]), 0.05).sum() == 0


def test_gi_star_finds_the_planted_persistent_hotspot(demo_small):
    truth = next(h for h in demo_small.truth["hotspots"] if h["pattern"] == "persistent")
    inc = demo_small.incidents[demo_small.incidents["category_code"] == truth["category_code"]]
    units = hs.count_by_unit(inc, hs.grid_units(demo_small.grids, "micro"))
    res = hs.hotspots(units).set_index("unit_id")
    planted = res.loc[truth["micro_codes"], "gi_bin"]
    assert (planted == 3).mean() >= 0.5
    assert (res["gi_bin"] < 0).sum() <= (res["gi_bin"] > 0).sum()


# --------------------------------------------------------------------------------------------
# Local Moran


def test_local_moran_i_and_quadrants_equal_esda(micro_counts, boston):
    points, precincts = boston
    bos = hs.count_by_unit(points, hs.grid_units(precincts.assign(level="l1"), "l1"))
    for frame in (micro_counts, bos):
        y = frame["count"].to_numpy(float)
        W = hs.queen_weights(frame.geometry)
        ours = hs.local_moran(y, W, permutations=0)
        ref = esda.Moran_Local(y, Graph.from_sparse(W), transformation="r", permutations=0)
        np.testing.assert_allclose(ours.i, ref.Is, rtol=0, atol=1e-8)
        np.testing.assert_array_equal(ours.q, ref.q)


@pytest.mark.filterwarnings("ignore:The alternative hypothesis:DeprecationWarning")
def test_local_moran_pseudo_p_consistent_with_esda(micro_counts):
    y = micro_counts["count"].to_numpy(float)
    W = hs.queen_weights(micro_counts.geometry)
    perms = 999
    ours = hs.local_moran(y, W, permutations=perms, seed=1)
    ref = esda.Moran_Local(y, Graph.from_sparse(W), transformation="r", permutations=perms, seed=1)
    # two independent Monte-Carlo estimates of the same p: binomial noise of both plus the
    # 1/(P+1) grid; 5 sigma over 447 cells
    pbar = np.clip((ours.p + ref.p_sim) / 2, 1 / (perms + 1), 0.5)
    tol = 5 * np.sqrt(2 * pbar * (1 - pbar) / perms) + 2 / (perms + 1)
    assert (np.abs(ours.p - ref.p_sim) <= tol).all()
    assert np.corrcoef(ours.p, ref.p_sim)[0, 1] > 0.98
    again = hs.local_moran(y, W, permutations=perms, seed=1)
    np.testing.assert_array_equal(ours.p, again.p)


def test_local_moran_pseudo_p_against_a_brute_force_per_unit_reference():
    """Discrete counts: many permutations tie with the observed I; ties count as >=."""
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(6), np.arange(5)))
    y = np.random.default_rng(2).poisson(5, 30).astype(float)
    y[:4] += 10
    W = hs.lattice_weights(ix, iy)
    perms = 20_000
    ours = hs.local_moran(y, W, permutations=perms, seed=4)
    n = len(y)
    z = (y - y.mean()) / y.std()
    rng = np.random.default_rng(9)
    ref = np.empty(n)
    for i in range(n):  # the textbook loop: k_i distinct other units per permutation
        k = W[i].nnz
        others = np.delete(np.arange(n), i)
        sims = z[others[np.argsort(rng.random((perms, n - 1)), axis=1)[:, :k]]].mean(axis=1)
        lag = z[W[i].indices].mean()
        larger = (z[i] * sims >= z[i] * lag - 1e-12).sum()
        ref[i] = (min(larger, perms - larger) + 1) / (perms + 1)
    tol = 5 * np.sqrt(2 * ref * (1 - ref) / perms) + 2 / perms
    assert (np.abs(ours.p - ref) <= tol).all()


def test_local_moran_default_permutations_let_fdr_find_99_percent_cells():
    assert hs.default_permutations(447, 9) == 100 * 447 - 1
    assert hs.default_permutations(1_000_000, 8) == hs.PERMUTATIONS_MIN
    assert hs.default_permutations(20_000, 8) <= hs.PERMUTATIONS_MAX
    # a 20 x 20 lattice: a hot 3 x 3 block (HH) and a lone hot cell among cold ones (HL)
    rng = np.random.default_rng(5)
    ix, iy = (a.ravel() for a in np.meshgrid(np.arange(20), np.arange(20)))
    y = rng.normal(10, 1, 400)
    block = (ix >= 3) & (ix <= 5) & (iy >= 3) & (iy <= 5)
    y[block] += 8
    lone = (ix == 15) & (iy == 15)
    y[(np.abs(ix - 15) <= 1) & (np.abs(iy - 15) <= 1)] = 6  # cold surroundings
    y[lone] = 40
    W = hs.lattice_weights(ix, iy)
    res = hs.local_moran(y, W, alpha=0.01)
    assert res.permutations == 100 * 400 - 1
    assert (res.cluster[(ix == 4) & (iy == 4)] == "HH").all()
    assert res.cluster[lone][0] == "HL"
    assert (res.p[lone] == 1 / (res.permutations + 1)).all()


# --------------------------------------------------------------------------------------------
# hotspots()


def test_hotspots_frame_columns_and_attrs(fishnet_counts, h3_counts):
    gi = hs.hotspots(fishnet_counts)
    for col in ("unit_id", "count", "density_km2", "gi_z", "gi_p", "gi_bin", "n_neighbors"):
        assert col in gi.columns
    assert gi.attrs["band_m"] is None and gi.attrs["weights"] == "queen"
    assert isinstance(gi, gpd.GeoDataFrame) and gi.crs.to_epsg() == 4326
    auto = hs.hotspots(fishnet_counts, weights="band")
    assert auto.attrs["band_m"] > 0 and auto.attrs["band_rule"] in {"first_peak", "max_z", "start"}
    fixed = hs.hotspots(h3_counts, weights="band", band_m=500.0)
    assert fixed.attrs["band_m"] == 500.0
    lisa = hs.hotspots(h3_counts, method="local_moran", weights="ring", permutations=199)
    assert {"lisa_i", "lisa_q", "lisa_p", "lisa_cluster"} <= set(lisa.columns)
    assert set(lisa["lisa_cluster"]) <= {"HH", "LL", "HL", "LH", "ns"}
    with pytest.raises(InputError):
        hs.hotspots(fishnet_counts, weights="ring")
