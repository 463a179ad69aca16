// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "Pipeline",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .executable(name: "bench-diffusion", targets: ["bench-diffusion"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
        .package(path: "../Autodiff"),
        .package(path: "../NN"),
        .package(path: "../DataIO"),
        .package(path: "../Tokenizer"),
        .package(path: "../TextEncoder"),
        .package(path: "../Diffusion"),
        // Tests only: the self-correction hook from its own package proves the step-hook seam on a real folder.
        .package(path: "../SelfCorrection"),
    ],
    targets: [
        .target(name: "Pipeline", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
        ]),
        .executableTarget(name: "bench-diffusion", dependencies: [
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "NN", package: "NN"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Diffusion", package: "Diffusion"),
        ]),
        .testTarget(name: "PipelineTests", dependencies: [
            "Pipeline",
            .product(name: "Tensor", package: "Tensor"),
            .product(name: "Autodiff", package: "Autodiff"),
            .product(name: "DataIO", package: "DataIO"),
            .product(name: "Tokenizer", package: "Tokenizer"),
            .product(name: "TextEncoder", package: "TextEncoder"),
            .product(name: "Diffusion", package: "Diffusion"),
            .product(name: "SelfCorrection", package: "SelfCorrection"),
            .product(name: "NN", package: "NN"),
        ], resources: [.copy("Fixtures")]),
    ]
)
