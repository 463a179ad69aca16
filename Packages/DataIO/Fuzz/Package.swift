// swift-tools-version:5.9
// libFuzzer targets for DataIO's parsers. Build only with the fuzzer flags: `make fuzz`, or see ../README.md:
//   swift build -c release --package-path Packages/DataIO/Fuzz --scratch-path Packages/DataIO/Fuzz/.build \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xcc -fsanitize=fuzzer-no-link,address
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
