"""The research harness of dali_sr, run from a checkout (`python -m benchmarks.<name>`), not installed:
baselines that re-implement other loaders, probes, the GPU suite; their results in benchmarks/results/."""
