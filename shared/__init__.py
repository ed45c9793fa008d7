"""deployq's shared package: models, stores, auth and Google API adapters used by every function."""
