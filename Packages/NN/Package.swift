// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "NN",
    products: [
        .library(name: "NN", targets: ["NN"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
    ],
    targets: [
        .target(name: "NN", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
        ]),
        .testTarget(name: "NNTests", dependencies: [
            "NN",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
        ], resources: [.copy("Fixtures")]),
    ]
)
