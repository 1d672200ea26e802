// LAPACKE (Debian: liblapacke-dev). Debian's OpenBLAS is built without LAPACKE, so it is linked separately.
#include <lapacke.h>
