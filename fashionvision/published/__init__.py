"""Published results shipped with the package, for side-by-side tables (see `load_published`)."""
