"""DALI graph definitions, one module per kind of dataset `type:`, and the registry of types.

Installed as `dali_sr.pipelines`.
"""
