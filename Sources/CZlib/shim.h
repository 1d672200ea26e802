// zlib (Debian: zlib1g-dev). deflateInit/inflateInit are macros Swift cannot call: wrap them.
#include <zlib.h>

static inline int swivel_deflateInit(z_streamp stream, int level) {
    return deflateInit(stream, level);
}

static inline int swivel_deflateInit2(z_streamp stream, int level, int strategy) {
    return deflateInit2(stream, level, Z_DEFLATED, 15, 8, strategy);
}

static inline int swivel_inflateInit(z_streamp stream) {
    return inflateInit(stream);
}
