// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Autodiff",
    products: [
        .library(name: "Autodiff", targets: ["Autodiff"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
    ],
    targets: [
        .target(name: "Autodiff", dependencies: [.product(name: "Tensor", package: "Tensor")]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", .product(name: "Tensor", package: "Tensor")],
                    resources: [.copy("Fixtures")]),
    ]
)
