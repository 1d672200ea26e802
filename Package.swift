// swift-tools-version:6.1
import Foundation
import PackageDescription

/// Compiler settings for modules with numeric hot loops: no math errno on sqrt, Swift 6 mode.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-fno-math-errno"]),
]

/// The loss pass is SIMD code; Swift's baseline x86-64 target turns its fused multiply-adds into library calls.
/// When the machine building swivel has AVX2 and FMA (x86-64 CPUs since 2013), the training module is built
/// for that feature set (`-target-cpu haswell`, like `-march=native` capped at Haswell), which makes whole
/// training steps faster (docs/benchmarks.md, "Haswell build"). The binary then needs such a CPU; set SWIVEL_PORTABLE_BUILD=1 when
/// building binaries to copy to other machines. `swivel bench` prints which build it is.
let hostHasAVX2AndFMA: Bool = {
    #if os(Linux) && arch(x86_64)
    guard ProcessInfo.processInfo.environment["SWIVEL_PORTABLE_BUILD"] == nil,
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
    let present = Set(flags.split(separator: " ").map(String.init))
    return ["avx2", "fma", "bmi1", "bmi2", "f16c", "movbe", "abm"].allSatisfy(present.contains)
    #else
    return false
    #endif
}()

let trainingSettings: [SwiftSetting] = numericSettings + (hostHasAVX2AndFMA
    ? [.unsafeFlags(["-target-cpu", "haswell"]), .define("SWIVEL_CPU_HASWELL")]
    : [])

/// Counting and tokenizing loops touch class state per token; the dynamic exclusivity checks on it cost
/// more than the work (measured with perf), and each worker's state is confined to its thread.
let countingSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "swivel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swivel", targets: ["swivel"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Distributed training with mpirun (needs Open MPI: Debian libopenmpi-dev)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: System libraries (Debian: libopenblas-dev, liblapacke-dev, zlib1g-dev)
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLAPACKE", path: "Sources/CLAPACKE",
                       providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(name: "CPrefetch", path: "Sources/CPrefetch"),
        .systemLibrary(name: "CLinuxFiles", path: "Sources/CLinuxFiles"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Only with `--traits MPI`.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),

        // MARK: Modules
        // Threads and ranks: locked values, per-worker slots, the rank communicator, progress reports.
        .target(name: "SwivelConcurrency"),
        // Files and bytes: atomic writes, zlib and our Huffman-only deflate, checksums, binary coding, resources.
        .target(name: "SwivelIO", dependencies: ["CZlib", "CLinuxFiles"]),
        .target(name: "SwivelText", dependencies: ["SwivelIO", "SwivelConcurrency"], swiftSettings: countingSettings),
        .target(name: "SwivelShards", dependencies: ["SwivelIO", "SwivelConcurrency", "SwivelText", "CPrefetch"],
                swiftSettings: countingSettings),
        .target(name: "SwivelLinearAlgebra", dependencies: ["CBLAS", "CLAPACKE"],
                swiftSettings: numericSettings),
        .target(name: "SwivelTraining",
                dependencies: ["SwivelIO", "SwivelConcurrency", "SwivelText", "SwivelShards", "SwivelLinearAlgebra",
                               "SwivelEmbeddings"],
                swiftSettings: trainingSettings),
        .target(name: "SwivelEmbeddings", dependencies: ["SwivelIO", "SwivelLinearAlgebra", "SwivelText"],
                swiftSettings: numericSettings),
        .target(name: "SwivelMPI", dependencies: ["CMPI", "SwivelIO", "SwivelConcurrency"]),

        // MARK: CLI
        .executableTarget(name: "swivel", dependencies: [
            "SwivelIO", "SwivelConcurrency", "SwivelText", "SwivelShards", "SwivelLinearAlgebra",
            "SwivelTraining", "SwivelEmbeddings",
            .target(name: "SwivelMPI", condition: .when(traits: ["MPI"])),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests
        .target(name: "SwivelTestSupport", dependencies: ["SwivelIO", "SwivelConcurrency"], path: "Tests/SwivelTestSupport"),
        .testTarget(name: "SwivelConcurrencyTests", dependencies: ["SwivelConcurrency"]),
        .testTarget(name: "SwivelIOTests", dependencies: ["SwivelIO"]),
        .testTarget(name: "SwivelTextTests", dependencies: ["SwivelText", "SwivelTestSupport"]),
        .testTarget(name: "SwivelShardsTests",
                    dependencies: ["SwivelShards", "SwivelText", "SwivelIO", "SwivelConcurrency", "SwivelTestSupport"]),
        .testTarget(name: "SwivelTrainingTests",
                    dependencies: ["SwivelTraining", "SwivelShards", "SwivelLinearAlgebra", "SwivelEmbeddings", "SwivelIO", "SwivelConcurrency",
                                   "SwivelText", "SwivelTestSupport"]),
        .testTarget(name: "SwivelEmbeddingsTests", dependencies: ["SwivelEmbeddings", "SwivelText", "SwivelLinearAlgebra", "SwivelTestSupport"]),
        .testTarget(name: "SwivelCLITests", dependencies: ["swivel", "SwivelIO", "SwivelTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
