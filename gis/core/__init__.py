"""The lowest layer: settings (the only reader of the environment), errors, CRS choice,
Chinese coordinate systems, geometry helpers, the one time parser and the one escaper of user
text (``text``). Imports no other gis
module; import its modules directly (``from gis.core.times import parse_times``)."""

__all__ = ["coords", "crs", "errors", "geometry", "settings", "text", "times"]
