"""Hand-written traces with known shapes, for tests of the API, the dashboard and evals."""
