// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "DataIO",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DataIO", targets: ["DataIO"]),
        .executable(name: "bench-dataio", targets: ["bench-dataio"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
    ],
    targets: [
        .systemLibrary(
            name: "CPNG",
            path: "Sources/CPNG",
            pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]
        ),
        .target(
            name: "CPNGDecode",
            dependencies: ["CPNG"],
            path: "Sources/CPNGDecode"
        ),
        .target(
            name: "DataIO",
            dependencies: ["CPNG", "CPNGDecode", .product(name: "Tensor", package: "Tensor")]
        ),
        .executableTarget(
            name: "bench-dataio",
            dependencies: ["DataIO", .product(name: "Tensor", package: "Tensor")]
        ),
        .testTarget(
            name: "DataIOTests",
            dependencies: ["DataIO", .product(name: "Tensor", package: "Tensor")],
            resources: [.copy("Fixtures")]
        ),
    ]
)
