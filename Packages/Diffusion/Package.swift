// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Diffusion",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Diffusion", targets: ["Diffusion"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
    ],
    targets: [
        .target(name: "Diffusion", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
        ]),
        .testTarget(name: "DiffusionTests", dependencies: [
            "Diffusion",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
        ], resources: [.copy("Fixtures")]),
    ]
)
