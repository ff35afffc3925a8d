"""DALI graph definitions, one module per kind of dataset `type:`, and the registration of the built-in types.

Installed as `dali_sr.pipelines`.
"""
