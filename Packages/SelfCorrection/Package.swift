// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "SelfCorrection",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SelfCorrection", targets: ["SelfCorrection"]),
        .executable(name: "bench-selfcorrection", targets: ["bench-selfcorrection"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../Diffusion"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
    ],
    targets: [
        .target(name: "SelfCorrection", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "Diffusion", package: "Diffusion"),
        ]),
        .executableTarget(name: "bench-selfcorrection", dependencies: [
            "SelfCorrection",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
        ]),
        .testTarget(name: "SelfCorrectionTests", dependencies: [
            "SelfCorrection",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
        ]),
    ]
)
