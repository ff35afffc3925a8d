"""Video clips (REDS, Vimeo90K, clip folders, video test sets): frames, windows, rules, index, source and types."""
