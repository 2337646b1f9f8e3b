using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>
/// A fitted principal component analysis (centred data, float64; components sorted by decreasing
/// explained variance, each with its largest-magnitude entry positive). Plain data.
/// </summary>
public sealed class PcaModel
{
    private readonly Core.PcaFit _inner;

    private PcaModel(Core.PcaFit inner) => _inner = inner;

    internal Core.PcaFit Inner => _inner;

    /// <summary>Fits principal components to samples (rows).</summary>
    /// <param name="data">[samples, dimensions], at least 2 samples that are not all equal.</param>
    /// <param name="components">Number of components, 1..dimensions; null: all of them.</param>
    /// <returns>The fit.</returns>
    /// <exception cref="ArgumentException">Too few or constant samples, a non-finite value, or a bad component count.</exception>
    public static PcaModel Fit(double[,] data, int? components = null)
    {
        var rows = Interop.Rows(data, nameof(data));
        return new PcaModel(Interop.Call(() =>
            components is int k ? Core.Pca.fit(k, rows) : Core.Pca.fitAll(rows)));
    }

    /// <summary>Fits principal components to network states (every [batch, time] pair is a sample).</summary>
    /// <param name="states">[batch, time, units], e.g. <see cref="Rollout.States"/>.</param>
    /// <param name="components">Number of components, 1..units; null: all of them.</param>
    /// <returns>The fit.</returns>
    public static PcaModel FitStates(float[,,] states, int? components = null)
    {
        var rows = Interop.StateRows(states, nameof(states));
        return new PcaModel(Interop.Call(() =>
            components is int k ? Core.Pca.fit(k, rows) : Core.Pca.fitAll(rows), ("data", nameof(states))));
    }

    /// <summary>Number of components.</summary>
    public int ComponentCount => _inner.Components.Length;

    /// <summary>Dimension of the data.</summary>
    public int Dimension => _inner.Mean.Length;

    /// <summary>The mean of the fitted samples [dimensions] (a copy).</summary>
    public double[] Mean => (double[])_inner.Mean.Clone();

    /// <summary>[components, dimensions]: orthonormal rows, by decreasing explained variance (a copy).</summary>
    public double[,] Components => Interop.Matrix(_inner.Components, Dimension);

    /// <summary>The variance of the data along each component (n - 1 denominator), decreasing.</summary>
    public IReadOnlyList<double> ExplainedVariance => Interop.ReadOnly((double[])_inner.ExplainedVariance.Clone());

    /// <summary>The share of all the variance each component explains (the ratios of all components sum to 1).</summary>
    public IReadOnlyList<double> ExplainedVarianceRatio => Interop.ReadOnly((double[])_inner.ExplainedVarianceRatio.Clone());

    /// <summary>The variance of all dimensions together (the trace of the covariance).</summary>
    public double TotalVariance => _inner.TotalVariance;

    /// <summary>The coordinates of a point along the components: (x - mean) . component.</summary>
    /// <param name="point">[dimensions]</param>
    /// <returns>[components]</returns>
    public double[] Transform(double[] point)
    {
        ArgumentNullException.ThrowIfNull(point);
        return Interop.Call(() => Core.Pca.transformPoint(_inner, point), ("x", nameof(point)));
    }

    /// <summary>The coordinates of points along the components.</summary>
    /// <param name="data">[samples, dimensions]</param>
    /// <returns>[samples, components]</returns>
    public double[,] Transform(double[,] data)
    {
        var rows = Interop.Rows(data, nameof(data));
        return Interop.Matrix(Interop.Call(() => Core.Pca.transform(_inner, rows)), ComponentCount);
    }

    /// <summary>The coordinates of network states along the components (trajectories in PC space).</summary>
    /// <param name="states">[batch, time, units]</param>
    /// <returns>[batch, time, components]</returns>
    public double[,,] TransformStates(float[,,] states)
    {
        var rows = Interop.StateRows(states, nameof(states));
        var coordinates = Interop.Call(() => Core.Pca.transform(_inner, rows), ("data", nameof(states)));
        int b = states.GetLength(0), t = states.GetLength(1), k = ComponentCount;
        var result = new double[b, t, k];
        for (int i = 0; i < b; i++)
            for (int s = 0; s < t; s++)
                for (int j = 0; j < k; j++) result[i, s, j] = coordinates[i * t + s][j];
        return result;
    }

    /// <summary>The point with given coordinates: mean + sum of coordinate * component.</summary>
    /// <param name="coordinates">[components]</param>
    /// <returns>[dimensions]</returns>
    public double[] Reconstruct(double[] coordinates)
    {
        ArgumentNullException.ThrowIfNull(coordinates);
        return Interop.Call(() => Core.Pca.reconstructPoint(_inner, coordinates));
    }

    /// <summary>The points with given coordinates.</summary>
    /// <param name="coordinates">[samples, components]</param>
    /// <returns>[samples, dimensions]</returns>
    public double[,] Reconstruct(double[,] coordinates)
    {
        var rows = Interop.Rows(coordinates, nameof(coordinates));
        return Interop.Matrix(Interop.Call(() => Core.Pca.reconstruct(_inner, rows)), Dimension);
    }

    /// <summary>
    /// The smallest number of components that explain at least <paramref name="threshold"/> of the
    /// variance (pyrnn's get_n_components_with_pca). A fit with fewer components than dimensions
    /// throws when its components do not reach the threshold.
    /// </summary>
    /// <param name="threshold">Share of the variance in (0, 1].</param>
    /// <returns>The number of components.</returns>
    public int ComponentsForVariance(double threshold = 0.85) =>
        Interop.Call(() => Core.Pca.componentsForVariance(threshold, _inner));
}
