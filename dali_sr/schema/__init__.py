"""The one validation system of option values: typed fields with range checks for mappings of options
(`fields`), checks of single values such as numbers, ranges and probability lists (`values`), and the
"did you mean" suggestion for a misspelt name (`suggest`). Every failure is a one-line `ConfigError` naming
the key. Config, storage and degradation options all validate through it."""
