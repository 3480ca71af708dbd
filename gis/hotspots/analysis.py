"""Putting it together: ``hotspots(units_frame)`` runs Gi* or local Moran on a counted units
frame with the weights of its kind.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import pandas as pd

from gis.core.errors import InputError
from gis.hotspots.gistar import gi_star
from gis.hotspots.lisa import local_moran
from gis.hotspots.weights import unit_weights


def hotspots(
    units_frame: gpd.GeoDataFrame,
    *,
    method: Literal["gi_star", "local_moran"] = "gi_star",
    weights: Literal["queen", "ring", "band"] = "queen",
    band_m: float | None = None,
    value: str = "count",
    k: int = 1,
    permutations: int | None = None,
    seed: int = 0,
    alpha: float = 0.05,
) -> gpd.GeoDataFrame:
    """Hot spots (Gi*) or clusters and outliers (local Moran) of a counted units frame.

    Parameters
    ----------
    units_frame
        From ``count_by_unit`` (``unit_id, count, density_km2, ..., geometry``).
    method
        ``"gi_star"`` (analytic, FDR bins) or ``"local_moran"`` (permutation inference).
    weights
        ``"queen"`` contiguity, ``"ring"`` (H3 ring ``k``) or ``"band"`` (distance band of
        ``band_m`` metres; automatic like Optimized Hot Spot Analysis when None).
    value
        Column analysed (``count`` or ``density_km2`` ...).
    permutations, seed, alpha
        Local Moran only (see ``local_moran``).

    Returns
    -------
    geopandas.GeoDataFrame
        The input columns plus ``gi_z, gi_p, gi_bin, n_neighbors`` (Gi*) or ``lisa_i,
        lisa_q, lisa_p, lisa_cluster, n_neighbors`` (local Moran). ``attrs``: the input's plus
        ``method``, ``weights``, ``band_m`` (metres, None unless a band was used) and, for an
        automatic band, ``band_rule`` and ``band_z`` (list of (band_m, z)).
    """
    if value not in units_frame.columns:
        raise InputError(f"no column {value!r} in the units frame")
    y = pd.to_numeric(units_frame[value], errors="coerce").fillna(0).to_numpy(dtype=float)
    W, choice = unit_weights(units_frame, weights, band_m=band_m, k=k, y=y)
    if method == "gi_star":
        stats_frame = gi_star(y, W).to_frame()
    elif method == "local_moran":
        stats_frame = local_moran(
            y, W, permutations=permutations, seed=seed, alpha=alpha
        ).to_frame()
    else:
        raise InputError(f"method must be gi_star or local_moran, got {method!r}")
    out = units_frame.drop(
        columns=[c for c in stats_frame.columns if c in units_frame.columns]
    ).copy()
    geom = out.pop("geometry")
    for c in stats_frame.columns:
        out[c] = stats_frame[c].to_numpy()
    out["geometry"] = geom
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=units_frame.crs)
    out.attrs = dict(units_frame.attrs)
    used_band = (choice.band_m if choice else band_m) if weights == "band" else None
    out.attrs.update(method=method, weights=weights, band_m=used_band)
    if choice is not None:
        out.attrs.update(
            band_rule=choice.rule,
            band_z=[
                (float(b), float(z)) for b, z in zip(choice.bands_m, choice.z_scores, strict=True)
            ],
        )
    return out
