"""Storage and file formats: backends (folders, LMDBs), folder scans, image headers, codecs, BasicSR meta
files, raw pixel values and LMDB writing. Nothing here knows configs or DALI."""
