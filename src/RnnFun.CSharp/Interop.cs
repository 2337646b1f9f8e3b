using System.Collections.ObjectModel;
using System.Text;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Core = RnnFun;

namespace RnnFun.CSharp;

/// <summary>
/// A file that RnnFun reads (a model, fixed-point or topology file) is missing, unreadable or
/// malformed. The message names the file and the problem (the key or value at fault).
/// </summary>
public sealed class RnnFileFormatException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The file that could not be read.</param>
    /// <param name="problem">What is wrong with it.</param>
    /// <param name="innerException">The core's exception, or null.</param>
    public RnnFileFormatException(string filePath, string problem, Exception? innerException = null)
        : base($"{filePath}: {problem}", innerException)
    {
        FilePath = filePath;
        Problem = problem;
    }

    /// <summary>The file that could not be read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with the file (without the path).</summary>
    public string Problem { get; }
}

/// <summary>Boundary helpers: exception translation and conversions between C# and F# data.</summary>
internal static class Interop
{
    private static readonly Dictionary<string, string> Aliases = new()
    {
        ["n_units"] = "units",
        ["n_init"] = "count",
    };

    /// <summary>The C# parameter name of a core argument name: snake_case to camelCase, plus aliases.</summary>
    internal static string ParameterName(string coreName)
    {
        if (Aliases.TryGetValue(coreName, out var alias)) return alias;
        var sb = new StringBuilder(coreName.Length);
        for (int i = 0; i < coreName.Length; i++)
        {
            char c = coreName[i];
            if (c == '_' && i + 1 < coreName.Length && char.IsLetter(coreName[i + 1]) && sb.Length > 0)
            {
                sb.Append(char.ToUpperInvariant(coreName[i + 1]));
                i++;
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private static Exception Translate(Exception e, (string Core, string CSharp)[] renames) => e switch
    {
        Core.InvalidArgument ia => new ArgumentException(ia.Message, Rename(ParameterName(ia.argument), renames), ia),
        Core.FileFormatError ff => new RnnFileFormatException(ff.path, ff.problem, ff),
        Core.InsufficientMemory => new InsufficientMemoryException(e.Message, e),
        Core.NativeRuntimeMissing => new DllNotFoundException(e.Message, e),
        _ => e,
    };

    private static string Rename(string name, (string Core, string CSharp)[] renames)
    {
        foreach (var (core, csharp) in renames)
            if (name == core) return csharp;
        return name;
    }

    /// <summary>
    /// Runs a core call, turning the core's F# exceptions into .NET ones. <paramref name="renames"/> maps
    /// a camelCased core argument name to the calling method's parameter name where the two differ.
    /// </summary>
    internal static T Call<T>(Func<T> body, params (string Core, string CSharp)[] renames)
    {
        try { return body(); }
        catch (Exception e) when (e is Core.InvalidArgument or Core.FileFormatError or Core.InsufficientMemory or Core.NativeRuntimeMissing) { throw Translate(e, renames); }
    }

    /// <summary>Runs a core call, turning the core's F# exceptions into .NET ones.</summary>
    internal static void Call(Action body, params (string Core, string CSharp)[] renames)
    {
        try { body(); }
        catch (Exception e) when (e is Core.InvalidArgument or Core.FileFormatError or Core.InsufficientMemory or Core.NativeRuntimeMissing) { throw Translate(e, renames); }
    }

    internal static FSharpOption<T> Some<T>(T value) => FSharpOption<T>.Some(value);

    internal static FSharpOption<T> OfNullable<T>(T? value) where T : struct =>
        value.HasValue ? FSharpOption<T>.Some(value.Value) : FSharpOption<T>.None;

    internal static FSharpOption<T> OfObj<T>(T? value) where T : class =>
        value is null ? FSharpOption<T>.None : FSharpOption<T>.Some(value);

    internal static T? ToObj<T>(FSharpOption<T>? option) where T : class =>
        option is null ? null : option.Value;

    internal static T? ToNullable<T>(FSharpOption<T>? option) where T : struct =>
        option is null ? null : option.Value;

    internal static FSharpList<T> List<T>(IEnumerable<T> items) => ListModule.OfSeq(items);

    internal static FSharpMap<string, bool> Flags(IReadOnlyDictionary<string, bool>? flags) =>
        flags is null
            ? MapModule.Empty<string, bool>()
            : MapModule.OfSeq(flags.Select(kv => Tuple.Create(kv.Key, kv.Value)));

    internal static IReadOnlyList<T> ReadOnly<T>(T[] items) => Array.AsReadOnly(items);

    internal static IReadOnlyList<T> ReadOnly<T>(IEnumerable<T> items) => Array.AsReadOnly(items.ToArray());

    /// <summary>Rows of a matrix (a copy).</summary>
    internal static double[][] Rows(double[,] m, string argument)
    {
        ArgumentNullException.ThrowIfNull(m, argument);
        int r = m.GetLength(0), c = m.GetLength(1);
        var rows = new double[r][];
        for (int i = 0; i < r; i++)
        {
            rows[i] = new double[c];
            for (int j = 0; j < c; j++) rows[i][j] = m[i, j];
        }
        return rows;
    }

    /// <summary>A matrix from rows (a copy); <paramref name="columns"/> is used when there are no rows.</summary>
    internal static double[,] Matrix(double[][] rows, int columns = 0)
    {
        int r = rows.Length, c = r == 0 ? columns : rows[0].Length;
        var m = new double[r, c];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++) m[i, j] = rows[i][j];
        return m;
    }

    /// <summary>A row-major copy of a 3-D float array.</summary>
    internal static float[] Flatten(float[,,] a)
    {
        var flat = new float[a.Length];
        Buffer.BlockCopy(a, 0, flat, 0, a.Length * sizeof(float));
        return flat;
    }

    /// <summary>A row-major copy of a 2-D float array.</summary>
    internal static float[] Flatten(float[,] a)
    {
        var flat = new float[a.Length];
        Buffer.BlockCopy(a, 0, flat, 0, a.Length * sizeof(float));
        return flat;
    }

    internal static float[,,] Array3(float[] flat, int d0, int d1, int d2)
    {
        var a = new float[d0, d1, d2];
        Buffer.BlockCopy(flat, 0, a, 0, flat.Length * sizeof(float));
        return a;
    }

    internal static float[,] Array2(float[] flat, int d0, int d1)
    {
        var a = new float[d0, d1];
        Buffer.BlockCopy(flat, 0, a, 0, flat.Length * sizeof(float));
        return a;
    }

    /// <summary>The rows [d0 * d1][d2] of a [d0, d1, d2] array, as float64.</summary>
    internal static double[][] StateRows(float[,,] states, string argument)
    {
        ArgumentNullException.ThrowIfNull(states, argument);
        int b = states.GetLength(0), t = states.GetLength(1), u = states.GetLength(2);
        var rows = new double[b * t][];
        for (int i = 0; i < b; i++)
            for (int k = 0; k < t; k++)
            {
                var row = new double[u];
                for (int j = 0; j < u; j++) row[j] = states[i, k, j];
                rows[i * t + k] = row;
            }
        return rows;
    }

    internal static Core.Precision Precision(bool float64) =>
        float64 ? Core.Precision.Float64 : Core.Precision.Float32;
}
