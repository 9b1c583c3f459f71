"""Pages of this app (thin: they call services and queries)."""
