"""Paired LQ/GT images (`PairedImageDataset`): index and source."""
