"""Dataset preparation commands: pack, extract-subimages, meta-info, regroup-reds, verify, inspect."""
