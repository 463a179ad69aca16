// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Tokenizer",
    products: [
        .library(name: "Tokenizer", targets: ["Tokenizer"]),
        .executable(name: "bench-tokenizer", targets: ["bench-tokenizer"]),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(name: "Tokenizer", dependencies: ["CZlib"]),
        .executableTarget(name: "bench-tokenizer", dependencies: ["Tokenizer"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "CZlib"], resources: [.copy("Fixtures")]),
    ]
)
