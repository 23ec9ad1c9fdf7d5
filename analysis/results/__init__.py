"""The results contract: the registry of every table the pipeline writes, and the atomic, manifest-checked store."""
