"""GridLens: grid governance and comprehensive law enforcement, on a map.

The library behind the ``gridlens`` command line and the Streamlit app. Analysis modules are pure
functions on (Geo)DataFrames; ``gis.store`` moves frames in and out of SpatiaLite or PostGIS.
"""

__version__ = "0.1.0"
