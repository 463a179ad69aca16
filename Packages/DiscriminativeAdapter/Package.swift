// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "DiscriminativeAdapter",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "DiscriminativeAdapter", targets: ["DiscriminativeAdapter"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
        .package(path: "../Diffusion"),
    ],
    targets: [
        .target(name: "DiscriminativeAdapter", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Diffusion", package: "Diffusion"),
        ]),
        .testTarget(name: "DiscriminativeAdapterTests", dependencies: [
            "DiscriminativeAdapter",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Diffusion", package: "Diffusion"),
        ], resources: [.copy("Fixtures")]),
    ]
)
