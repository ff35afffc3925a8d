"""Datasets: per kind (paired images, clips) the sample index (which samples exist, checked before any batch)
and the external source (one batch of stored values, windows and flags as a pure function of the epoch
plan and the batch number), with what they share: the epoch plan, the source base and its declared outputs."""
