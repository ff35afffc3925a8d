"""Storage and file formats: backends (folders, LMDBs, memcached, shards, object storage), the `io_backend`
option and the table of openers, folder scans, image headers, codecs, BasicSR meta files, raw pixel values and
LMDB writing. Nothing here knows dataset configs or DALI."""
