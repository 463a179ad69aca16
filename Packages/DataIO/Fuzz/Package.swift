// swift-tools-version:5.9
// libFuzzer targets for DataIO's parsers. Build only with the fuzzer flags (see ../README.md):
//   swift build -c release --package-path Packages/DataIO/Fuzz -Xswiftc -sanitize=fuzzer,address
import PackageDescription

let package = Package(
    name: "DataIOFuzz",
    dependencies: [
        .package(path: ".."),
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "fuzz-safetensors",
            dependencies: ["CFuzzerDriver", .product(name: "DataIO", package: "DataIO")]
        ),
        .executableTarget(
            name: "fuzz-png",
            dependencies: ["CFuzzerDriver", .product(name: "DataIO", package: "DataIO")]
        ),
    ]
)
