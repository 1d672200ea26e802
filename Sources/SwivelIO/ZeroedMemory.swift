#if canImport(Glibc)
import Glibc
#endif

/// A large zero-filled array of `T` mapped straight from the kernel (anonymous `mmap`), for hash tables
/// and count arrays that are touched at random.
///
/// Pages are zero until first written, so untouched parts cost no memory and nothing needs initializing;
/// the mapping asks for transparent huge pages (`MADV_HUGEPAGE`), which cuts page faults and TLB misses
/// by 512x on random access where the system allows them. `T` must be a trivial type for which all-zero
/// bytes are a valid value.
public final class ZeroedMemory<T: BitwiseCopyable>: @unchecked Sendable {
    /// The elements.
    public let pointer: UnsafeMutablePointer<T>
    /// Number of elements.
    public let count: Int
    private let bytes: Int

    /// Maps `count` zeroed elements; traps only if the kernel refuses the mapping (out of address space).
    public init(count: Int) {
        self.count = count
        bytes = max(1, count * MemoryLayout<T>.stride)
        guard let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              raw != MAP_FAILED else {
            fatalError("swivel: cannot map \(bytes) bytes of memory (\(systemErrorMessage()))")
        }
        if bytes >= 4 << 20 { _ = madvise(raw, bytes, 14 /* MADV_HUGEPAGE */) }
        pointer = raw.bindMemory(to: T.self, capacity: count)
    }

    deinit { munmap(pointer, bytes) }
}
