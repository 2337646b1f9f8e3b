namespace RnnFun

open System
open TorchSharp

/// How many dimensions a cloud of states spreads over.
[<RequireQualifiedAccess>]
module Dimensionality =
    /// The participation ratio (sum lambda)^2 / sum lambda^2 of the states' covariance eigenvalues
    /// lambda: 1 for states on a line, n for states spread equally over n orthogonal directions (the
    /// 8 corners of a cube give 3). Computed as tr(C)^2 / ||C||_F^2, which needs no eigenvalues (the
    /// Gram matrix of the centred states when there are fewer states than units: the same nonzero
    /// eigenvalues). states [samples][units], at least 2 samples, in float64. 0 when every state is the
    /// same. `InvalidArgument` for fewer than 2 states, ragged rows or values that are not finite.
    let participationRatio (states: float[][]) : float =
        if isNull states || states.Length < 2 then Check.fail "states" (sprintf "expected at least 2 states, got %d" (if isNull states then 0 else states.Length))
        let n = states[0].Length
        if n = 0 then Check.fail "states" "expected states of at least one value"
        Check.matrixShape "states" states.Length n states
        Check.allFinite "states" (Seq.concat states)
        use _ = torch.NewDisposeScope()
        let x = Arrays.matrixToTensor Precision.Float64 states // [samples; units]
        let centred = x - x.mean([| 0L |], keepdim = true) // [samples; units]
        // The covariance's scale (1 / (samples - 1)) cancels in the ratio.
        let c = if states.Length < n then centred.mm(centred.t()) else centred.t().mm(centred) // [m; m]
        let trace = c.diagonal().sum().ToDouble()
        let frobenius = c.squared().sum().ToDouble()
        if frobenius = 0.0 then 0.0 else trace * trace / frobenius
