"""Degradations that make LQ from GT: their kernels and parameters, as NumPy (no DALI). The DALI graph pieces
that apply them live in `dali_sr.pipelines`."""
