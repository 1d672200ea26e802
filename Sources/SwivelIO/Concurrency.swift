#if canImport(Glibc)
import Glibc
#endif

/// A buffer pointer that may cross into `concurrentPerform` workers, which only read it.
public struct UnsafeSendableBuffer<T>: @unchecked Sendable {
    /// The wrapped buffer.
    public let buffer: UnsafeBufferPointer<T>
    /// Wraps `buffer`.
    public init(_ buffer: UnsafeBufferPointer<T>) { self.buffer = buffer }
}

/// Slots that distinct workers of one `concurrentPerform` fill, one slot each, without locks.
///
/// Raw memory rather than an Array in a class: Swift's exclusivity checks would (rightly) flag
/// concurrent writes through one array property.
public final class ConcurrentSlots<T>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<T>
    /// Number of slots.
    public let count: Int

    /// Creates `count` slots holding `value`.
    public init(repeating value: T, count: Int) {
        self.count = count
        storage = .allocate(capacity: max(count, 1))
        storage.initialize(repeating: value, count: count)
    }

    deinit {
        storage.deinitialize(count: count)
        storage.deallocate()
    }

    /// Slot `index`; each slot must be written by one worker at a time.
    public subscript(index: Int) -> T {
        get { storage[index] }
        set { storage[index] = newValue }
    }

    /// All slots, in order.
    public var values: [T] { Array(UnsafeBufferPointer(start: storage, count: count)) }
}

/// A mutual-exclusion lock (a pthread mutex), usable from any module without Foundation.
public final class Lock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    /// Creates an unlocked lock.
    public init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Takes the lock (waiting for it); pair with ``release()``.
    public func acquire() { pthread_mutex_lock(mutex) }

    /// Releases the lock taken by ``acquire()`` on the same thread.
    public func release() { pthread_mutex_unlock(mutex) }

    /// Runs `body` holding the lock.
    public func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A value shared by concurrent workers, read and written only under its lock.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = Lock()
    private var value: Value

    /// Wraps `value`.
    public init(_ value: Value) { self.value = value }

    /// Runs `body` on the value, holding the lock.
    public func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.locked { try body(&value) }
    }
}
