import Tensor

/// Convolution, nearest upsampling and average pooling (backward kernels from Tensor).
extension Variable {
    /// 2-D convolution of `x` [N, C, H, W] with `weight` [O, C/groups, kH, kW] and optional `bias` [O]
    /// (PyTorch `conv2d` semantics; stride/padding/dilation as (height, width)).
    public static func conv2d(_ x: Variable, weight: Variable, bias: Variable? = nil, stride: (Int, Int),
                              padding: (Int, Int), dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Variable {
        let xv = x.value, wv = weight.value
        let out = Tensor.conv2d(xv, weight: wv, bias: bias?.value, stride: stride, padding: padding,
                                dilation: dilation, groups: groups)
        let inputs = [x, weight] + (bias.map { [$0] } ?? [])
        return record("conv2d", out, inputs: inputs) { g, needs in
            var grads: [Tensor?] = [nil, nil]
            if needs[0] {
                grads[0] = Tensor.conv2dBackwardInput(g, weight: wv, inputShape: xv.shape, stride: stride,
                                                      padding: padding, dilation: dilation, groups: groups)
            }
            if needs[1] {
                grads[1] = Tensor.conv2dBackwardWeight(g, input: xv, weightShape: wv.shape, stride: stride,
                                                       padding: padding, dilation: dilation, groups: groups)
            }
            if inputs.count == 3 { grads.append(needs[2] ? Tensor.conv2dBackwardBias(g) : nil) }
            return grads
        }
    }

    /// `conv2d` with square stride, padding and dilation.
    public static func conv2d(_ x: Variable, weight: Variable, bias: Variable? = nil, stride: Int = 1,
                              padding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Variable {
        conv2d(x, weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding),
               dilation: (dilation, dilation), groups: groups)
    }

    /// Nearest-neighbour upsampling of the last two axes by an integer factor.
    public func upsampleNearest(scale: Int) -> Variable {
        Variable.record("upsampleNearest", Tensor.upsampleNearest(value, scale: scale), inputs: [self]) { g, _ in
            [Tensor.upsampleNearestBackward(g, scale: scale)]
        }
    }

    /// Nearest-neighbour upsampling by 2 (the SD U-Net / VAE upsampler).
    public func upsampleNearest2x() -> Variable { upsampleNearest(scale: 2) }

    /// Average pooling over the last two axes with a square kernel (stride defaults to the kernel), no padding.
    public func avgPool2d(kernel: Int, stride: Int? = nil) -> Variable {
        let inShape = shape
        return Variable.record("avgPool2d", value.avgPool2d(kernel: kernel, stride: stride), inputs: [self]) { g, _ in
            [Tensor.avgPool2dBackward(g, inputShape: inShape, kernel: kernel, stride: stride)]
        }
    }
}
