// zlib (Debian: zlib1g-dev). deflateInit2 is a macro Swift cannot call: wrap it.
#include <zlib.h>

static inline int swivel_deflateInit2(z_streamp stream, int level, int strategy) {
    return deflateInit2(stream, level, Z_DEFLATED, 15, 8, strategy);
}
