"""Cluster files for `ray up` and their offline validator (`python -m clusters.check FILE ...`)."""
