#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether operations on `Variable`s record a graph, per thread.
///
/// Recording is on by default. `noGrad { ... }` turns it off for the calling thread while `body` runs
/// (inference, optimiser updates, EMA); `enableGrad { ... }` turns it back on inside such a scope.
public enum GradMode {
    /// Thread-local flag: a nil slot means enabled (the default for every new thread).
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k, nil)
        precondition(rc == 0, "GradMode: pthread_key_create failed with \(rc)")
        return k
    }()

    /// True when operations on this thread record a graph for `backward()`.
    public static var isEnabled: Bool { pthread_getspecific(key) == nil }

    private static func set(enabled: Bool) {
        pthread_setspecific(key, enabled ? nil : UnsafeRawPointer(bitPattern: 1))
    }

    /// Runs `body` with recording turned off on this thread (restoring the previous state afterwards).
    public static func noGrad<R>(_ body: () throws -> R) rethrows -> R {
        let previous = isEnabled
        set(enabled: false)
        defer { set(enabled: previous) }
        return try body()
    }

    /// Runs `body` with recording turned on on this thread, even inside `noGrad`.
    public static func enableGrad<R>(_ body: () throws -> R) rethrows -> R {
        let previous = isEnabled
        set(enabled: true)
        defer { set(enabled: previous) }
        return try body()
    }
}
