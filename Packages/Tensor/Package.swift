// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Tensor",
    products: [
        .library(name: "Tensor", targets: ["Tensor"]),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "Tensor",
            dependencies: ["CBLAS"]
        ),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"], resources: [.copy("Fixtures")]),
    ]
)
