// swift-tools-version:5.9
import PackageDescription

let package = Package(
    name: "ShapesWorld",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "ShapesWorld", targets: ["ShapesWorld"]),
        .executable(name: "shapesworld-bench", targets: ["shapesworld-bench"]),
    ],
    dependencies: [
        .package(path: "../Tensor"),
    ],
    targets: [
        .target(
            name: "ShapesWorld",
            dependencies: [.product(name: "Tensor", package: "Tensor")],
            resources: [.copy("Resources")]
        ),
        .executableTarget(name: "shapesworld-bench", dependencies: ["ShapesWorld"]),
        .testTarget(name: "ShapesWorldTests", dependencies: ["ShapesWorld", .product(name: "Tensor", package: "Tensor")]),
    ]
)
