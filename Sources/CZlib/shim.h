// CZlib: the system zlib, used to inflate gzipped IDX files.
#include <zlib.h>
