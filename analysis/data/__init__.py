"""The data stage: read the four exports, validate them, build the customer table (and synthetic or fetched exports)."""
