// Cache prefetch hints, which Swift cannot express: the co-occurrence counter asks for the cells of the next
// tokens' pairs while it adds to the current ones, so that cache misses overlap.
static inline void swivel_prefetch_for_write(const void *address) {
    __builtin_prefetch(address, 1, 3);
}

// Asks the CPU to bring the cache line holding `address` in for reading (a hint: never faults).
static inline void swivel_prefetch_for_read(const void *address) {
    __builtin_prefetch(address, 0, 3);
}
