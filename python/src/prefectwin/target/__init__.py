"""The target interpreter: the one Prefect runs under, asked through one agent script."""
