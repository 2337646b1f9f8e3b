namespace RnnFun

open System
open TorchSharp

/// A fitted principal component analysis, as plain data (no tensors): safe to keep, compare and save.
type PcaFit =
    { /// The mean of the fitted samples [d]: `transform` subtracts it before projecting.
      Mean: float[]
      /// k unit vectors of length d (rows), orthonormal, by decreasing explained variance. Each one's
      /// sign is fixed so that its largest-magnitude entry (the first, on a tie) is positive.
      Components: float[][]
      /// The variance of the data along each component [k] (covariance eigenvalues, n - 1
      /// denominator), decreasing.
      ExplainedVariance: float[]
      /// `ExplainedVariance / TotalVariance` [k]: the share of all the variance each component
      /// explains. The ratios of all d components sum to 1.
      ExplainedVarianceRatio: float[]
      /// The variance of all d dimensions together: the sum of all d covariance eigenvalues (the trace
      /// of the covariance, i.e. the sum of the per-dimension variances).
      TotalVariance: float }

/// Principal component analysis of samples (rows) or of network states, computed in float64.
///
/// Unlike pyrnn's `PCA`, the data are centred before the covariance is taken, and components are
/// sorted by decreasing explained variance (see docs/departures.md).
[<RequireQualifiedAccess>]
module Pca =
    /// Share of the variance `componentsForVariance` asks for by default (pyrnn's
    /// `get_n_components_with_pca`).
    [<Literal>]
    let defaultVarianceThreshold = 0.85

    /// Slack on cumulative ratios: the ratios of all d components sum to 1 only up to rounding, and a
    /// threshold of 1 must still be reachable.
    let private ratioTolerance = 1e-12

    let private checkThreshold (threshold: float) =
        if Double.IsNaN threshold || threshold <= 0.0 || threshold > 1.0 then
            Check.fail "threshold" (sprintf "expected a share of the variance in (0, 1], got %g" threshold)

    let private shapeText (t: Tensor) =
        t.shape |> Array.map string |> String.concat "; " |> sprintf "[%s]"

    /// Fits k components to x [n; d] (float64, CPU, already checked finite with n >= 2).
    let private fitMatrix (dataArgument: string) (components: int) (x: Tensor) : PcaFit =
        use _ = torch.NewDisposeScope()
        let n = int x.shape[0]
        let d = int x.shape[1]
        if components < 1 || components > d then
            Check.fail "components" (sprintf "expected 1 <= components <= %d (the data's dimension), got %d" d components)
        // Equal rows have no directions of variance: every component would be arbitrary.
        if torch.eq(x, x.narrow(0, 0L, 1L)).all().item<bool>() then
            Check.fail dataArgument (sprintf "expected samples that vary, but all %d samples are equal" n)
        let mean = x.mean([| 0L |]) // [d]
        let centred = x - mean // [n; d]
        let covariance = centred.t().matmul(centred) / float (n - 1) // [d; d]
        // eigh: symmetric solver, real eigenvalues, orthonormal eigenvectors in the columns.
        let struct (values, vectors) = torch.linalg.eigh(covariance) // [d], [d; d]
        let eigenvalues = Arrays.ofTensor values
        let eigenvectors = Arrays.ofMatrix vectors // row i = entry i of every eigenvector
        // A positive semi-definite covariance can come out with tiny negative eigenvalues from rounding.
        let variances = eigenvalues |> Array.map (fun v -> max v 0.0)
        let total = Array.sum variances
        if not (total > 0.0) || Double.IsInfinity total then
            Check.fail dataArgument (sprintf "expected a finite, non-zero total variance, got %g (values too large or too close together for float64)" total)
        // Sort explicitly rather than trust the solver's order (pyrnn takes np.linalg.eig's order as is).
        let order = Array.init d id |> Array.sortWith (fun i j -> compare variances[j] variances[i])
        let unitVector (j: int) =
            let v = Array.init d (fun i -> eigenvectors[i][j])
            // Eigenvectors are defined up to sign: fix it so that the same data always give the same vectors.
            let mutable largest = 0
            for i in 1 .. d - 1 do
                if abs v[i] > abs v[largest] then largest <- i
            if v[largest] < 0.0 then Array.map (fun e -> -e) v else v
        let chosen = Array.sub order 0 components
        { Mean = Arrays.ofTensor mean
          Components = chosen |> Array.map unitVector
          ExplainedVariance = chosen |> Array.map (fun j -> variances[j])
          ExplainedVarianceRatio = chosen |> Array.map (fun j -> variances[j] / total)
          TotalVariance = total }

    /// Fits the first `components` principal components of `data` (rows are samples: n x d).
    /// Requires n >= 2 rectangular, finite rows, not all equal, and 1 <= components <= d.
    let fit (components: int) (data: float[][]) : PcaFit =
        if isNull data || data.Length < 2 then
            Check.fail "data" (sprintf "expected at least 2 samples (rows), got %d" (if isNull data then 0 else data.Length))
        if isNull data[0] || data[0].Length = 0 then
            Check.fail "data" "expected samples of at least 1 dimension, got an empty first row"
        Check.matrixShape "data" data.Length data[0].Length data
        Check.allFinite "data" (Seq.concat data)
        use _ = torch.NewDisposeScope()
        use x = Arrays.matrixToTensor Precision.Float64 data // [samples; d]
        fitMatrix "data" components x

    /// Fits all d components of `data`: the form to use for `componentsForVariance` and `reconstruct`.
    let fitAll (data: float[][]) : PcaFit =
        let d = if isNull data || data.Length = 0 || isNull data[0] then 1 else max 1 data[0].Length
        fit d data

    /// Fits the first `components` principal components of network states, [batch; time; units] or
    /// [samples; units] (every leading dimension is flattened into samples; any precision or device).
    /// The same result as `fit` on the rows of the flattened states.
    let fitTensor (components: int) (states: Tensor) : PcaFit =
        if isNull states then Check.fail "states" "expected a tensor, got null"
        if states.dim() < 2L then
            Check.fail "states" (sprintf "expected a [batch; time; units] or [samples; units] tensor, got shape %s" (shapeText states))
        let units = states.shape[states.shape.Length - 1]
        let samples = states.shape |> Array.take (states.shape.Length - 1) |> Array.fold (*) 1L
        if units < 1L then Check.fail "states" (sprintf "expected at least 1 unit, got shape %s" (shapeText states))
        if samples < 2L then Check.fail "states" (sprintf "expected at least 2 samples (states), got shape %s" (shapeText states))
        use _ = torch.NewDisposeScope()
        // float64 on the CPU: the same numbers as `fit` whatever the network's precision and device.
        let x = states.detach().cpu().to_type(torch.ScalarType.Float64).reshape(samples, units) // [samples; units]
        if not (torch.isfinite(x).all().item<bool>()) then
            Check.fail "states" "expected finite numbers, found NaN or Inf"
        fitMatrix "states" components x

    let private checkDimension (argument: string) (pca: PcaFit) (x: float[]) =
        let d = pca.Mean.Length
        if isNull x || x.Length <> d then
            Check.fail argument (sprintf "expected a vector of length %d (the PCA's dimension), got %s" d (if isNull x then "null" else sprintf "length %d" x.Length))

    /// The coordinates [k] of a point [d] along the components: (x - mean) . component.
    let transformPoint (pca: PcaFit) (x: float[]) : float[] =
        checkDimension "x" pca x
        Check.allFinite "x" x
        pca.Components
        |> Array.map (fun c ->
            let mutable s = 0.0
            for i in 0 .. c.Length - 1 do
                s <- s + (x[i] - pca.Mean[i]) * c[i]
            s)

    /// The coordinates (n x k) of points (n x d) along the components.
    let transform (pca: PcaFit) (data: float[][]) : float[][] =
        if isNull data then Check.fail "data" "expected an array of rows, got null"
        Check.matrixShape "data" data.Length pca.Mean.Length data
        Check.allFinite "data" (Seq.concat data)
        data |> Array.map (transformPoint pca)

    /// The point [d] with coordinates [k]: mean + sum of coordinate * component. With all d components
    /// this inverts `transformPoint`; with fewer it gives the projection onto the components' span.
    let reconstructPoint (pca: PcaFit) (coordinates: float[]) : float[] =
        let k = pca.Components.Length
        if isNull coordinates || coordinates.Length <> k then
            Check.fail "coordinates" (sprintf "expected a vector of length %d (the number of components), got %s" k (if isNull coordinates then "null" else sprintf "length %d" coordinates.Length))
        Check.allFinite "coordinates" coordinates
        let x = Array.copy pca.Mean
        for j in 0 .. k - 1 do
            let c = pca.Components[j]
            for i in 0 .. x.Length - 1 do
                x[i] <- x[i] + coordinates[j] * c[i]
        x

    /// The points (n x d) with coordinates (n x k); see `reconstructPoint`.
    let reconstruct (pca: PcaFit) (coordinates: float[][]) : float[][] =
        if isNull coordinates then Check.fail "coordinates" "expected an array of rows, got null"
        coordinates |> Array.map (reconstructPoint pca)

    /// The coordinates of states [..; units] along the components: [..; k], in the states' precision
    /// and on their device (for plotting trajectories in PC space).
    let transformTensor (pca: PcaFit) (states: Tensor) : Tensor =
        let d = pca.Mean.Length
        if isNull states || states.dim() < 1L || states.shape[states.shape.Length - 1] <> int64 d then
            Check.fail "states" (sprintf "expected a tensor whose last dimension is %d (the PCA's dimension), got %s" d (if isNull states then "null" else sprintf "shape %s" (shapeText states)))
        use _ = torch.NewDisposeScope()
        let precision = if states.dtype = torch.ScalarType.Float64 then Precision.Float64 else Precision.Float32
        let mean = (Arrays.toTensor precision [| int64 d |] pca.Mean).``to``(states.device) // [units]
        let components = (Arrays.matrixToTensor precision pca.Components).``to``(states.device) // [k; units]
        (states.detach().to_type(precision.ScalarType) - mean).matmul(components.t()).MoveToOuterDisposeScope() // [..; k]

    /// The smallest k whose first k ratios add up to at least `threshold` (in (0, 1]), from explained
    /// variance ratios sorted in decreasing order (a `PcaFit`'s `ExplainedVarianceRatio`). The sums are
    /// compared with a slack of 1e-12, so that a threshold of 1 is reached despite rounding.
    let componentsForRatios (threshold: float) (ratios: float[]) : int =
        checkThreshold threshold
        if isNull ratios || ratios.Length = 0 then Check.fail "ratios" "expected at least one ratio, got none"
        if ratios |> Array.exists (fun r -> Double.IsNaN r || r < 0.0 || r > 1.0) then
            Check.fail "ratios" "expected ratios in [0, 1]"
        let cumulative = Array.scan (+) 0.0 ratios |> Array.tail
        match cumulative |> Array.tryFindIndex (fun c -> c >= threshold - ratioTolerance) with
        | Some i -> i + 1
        | None ->
            Check.fail "ratios" (sprintf "expected ratios that reach %g, but they sum to %g: fit all d components (Pca.fitAll)" threshold (Array.last cumulative))

    /// The smallest number of components that explain at least `threshold` (in (0, 1]) of the variance
    /// (pyrnn's `get_n_components_with_pca`, whose default is `defaultVarianceThreshold`). Uses the
    /// fit's ratios, which are shares of the variance of all d dimensions, so a fit with fewer than d
    /// components answers when its components reach the threshold and raises otherwise; a fit from
    /// `fitAll` always answers.
    let componentsForVariance (threshold: float) (pca: PcaFit) : int =
        checkThreshold threshold
        let ratios = pca.ExplainedVarianceRatio
        let reached = Array.sum ratios >= threshold - ratioTolerance
        if not reached then
            Check.fail "pca" (sprintf "expected a fit whose %d components explain at least %g of the variance, but they explain %g: fit all d = %d components (Pca.fitAll)" ratios.Length threshold (Array.sum ratios) pca.Mean.Length)
        componentsForRatios threshold ratios

    /// The smallest number of components that explain at least `threshold` of the variance of `data`
    /// (rows are samples), from a fit of all d components.
    let componentsForVarianceOf (threshold: float) (data: float[][]) : int =
        checkThreshold threshold
        componentsForVariance threshold (fitAll data)
