"""Which deployments serve a model alias, and in what order they are tried."""
