// swift-tools-version:6.1
import PackageDescription

/// Compiler settings for modules with numeric hot loops: no math errno on sqrt, Swift 6 mode.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-fno-math-errno"]),
]

/// Counting and tokenizing loops touch class state per token; the dynamic exclusivity checks on it cost
/// more than the work (measured with perf), and each worker's state is confined to its thread.
let countingSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "swivel",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "swivel", targets: ["swivel"]),
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
        .systemLibrary(name: "CZlib", path: "Sources/CZlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // MARK: Modules
        .target(name: "SwivelIO", dependencies: ["CZlib"]),
        .target(name: "SwivelText", dependencies: ["SwivelIO"], swiftSettings: countingSettings),
        .target(name: "SwivelShards", dependencies: ["SwivelIO", "SwivelText"], swiftSettings: countingSettings),
        .target(name: "SwivelLinearAlgebra", dependencies: ["CBLAS", "CLAPACKE"],
                swiftSettings: numericSettings),
        .target(name: "SwivelTraining",
                dependencies: ["SwivelIO", "SwivelText", "SwivelShards", "SwivelLinearAlgebra", "SwivelEmbeddings"],
                swiftSettings: numericSettings),
        .target(name: "SwivelEmbeddings", dependencies: ["SwivelIO", "SwivelLinearAlgebra"],
                swiftSettings: numericSettings),

        // MARK: CLI
        .executableTarget(name: "swivel", dependencies: [
            "SwivelIO", "SwivelText", "SwivelShards", "SwivelLinearAlgebra",
            "SwivelTraining", "SwivelEmbeddings",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // MARK: Tests
        .target(name: "SwivelTestSupport", path: "Tests/SwivelTestSupport"),
        .testTarget(name: "SwivelTextTests", dependencies: ["SwivelText", "SwivelTestSupport"]),
        .testTarget(name: "SwivelShardsTests", dependencies: ["SwivelShards", "SwivelText", "SwivelIO", "SwivelTestSupport"]),
        .testTarget(name: "SwivelTrainingTests",
                    dependencies: ["SwivelTraining", "SwivelShards", "SwivelLinearAlgebra", "SwivelEmbeddings",
                                   "SwivelTestSupport"]),
        .testTarget(name: "SwivelEmbeddingsTests", dependencies: ["SwivelEmbeddings", "SwivelTestSupport"]),
        .testTarget(name: "SwivelCLITests", dependencies: ["swivel", "SwivelTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
