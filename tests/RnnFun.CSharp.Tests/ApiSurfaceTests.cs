using System.Reflection;
using RnnFun.CSharp;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace CSharp.Tests;

/// <summary>The facade's public surface must not expose F# types (FSharp.Core or the RnnFun core).</summary>
public class ApiSurfaceTests
{
    private static readonly Assembly Facade = typeof(RnnNetwork).Assembly;

    private static readonly Assembly CoreAssembly =
        Assembly.Load(Facade.GetReferencedAssemblies().Single(a => a.Name == "RnnFun"));

    private static bool IsForbidden(Type t)
    {
        if (t.HasElementType) return IsForbidden(t.GetElementType()!);
        if (t.IsGenericParameter) return false;
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
            return IsForbidden(t.GetGenericTypeDefinition()) || t.GetGenericArguments().Any(IsForbidden);
        return (t.Namespace ?? "").StartsWith("Microsoft.FSharp", StringComparison.Ordinal)
            || t.Assembly == CoreAssembly
            || t.Assembly.GetName().Name == "FSharp.Core";
    }

    private static bool Visible(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);

    private static bool Visible(FieldInfo f) => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly;

    /// <summary>Every (member, type) pair of the visible surface of a type.</summary>
    private static IEnumerable<(string Where, Type Type)> Surface(Type type)
    {
        if (type.BaseType is { } b) yield return ($"{type.FullName} : base", b);
        foreach (var i in type.GetInterfaces()) yield return ($"{type.FullName} : interface", i);
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var m in type.GetMethods(all).Where(Visible))
        {
            yield return ($"{type.FullName}.{m.Name} return", m.ReturnType);
            foreach (var p in m.GetParameters()) yield return ($"{type.FullName}.{m.Name}({p.Name})", p.ParameterType);
        }
        foreach (var c in type.GetConstructors(all).Where(Visible))
            foreach (var p in c.GetParameters()) yield return ($"{type.FullName}..ctor({p.Name})", p.ParameterType);
        foreach (var p in type.GetProperties(all).Where(p => Visible(p.GetMethod) || Visible(p.SetMethod)))
            yield return ($"{type.FullName}.{p.Name}", p.PropertyType);
        foreach (var f in type.GetFields(all).Where(Visible))
            yield return ($"{type.FullName}.{f.Name}", f.FieldType);
        foreach (var e in type.GetEvents(all).Where(e => Visible(e.AddMethod)))
            yield return ($"{type.FullName}.{e.Name}", e.EventHandlerType!);
    }

    [Fact]
    public void The_checker_recognises_FSharp_types()
    {
        Assert.True(IsForbidden(Type.GetType("Microsoft.FSharp.Core.FSharpOption`1, FSharp.Core", throwOnError: true)!.MakeGenericType(typeof(int))));
        Assert.True(IsForbidden(typeof(IReadOnlyList<>).MakeGenericType(CoreAssembly.GetType("RnnFun.FixedPoint", throwOnError: true)!)));
        Assert.True(IsForbidden(CoreAssembly.GetType("RnnFun.Network", throwOnError: true)!.MakeArrayType()));
        Assert.False(IsForbidden(typeof(IReadOnlyList<System.Numerics.Complex>)));
    }

    [Fact]
    public void No_public_member_exposes_an_FSharp_type()
    {
        var types = Facade.GetExportedTypes();
        Assert.Contains(typeof(RnnNetwork), types);
        var offenders = types
            .SelectMany(Surface)
            .Where(s => IsForbidden(s.Type))
            .Select(s => $"{s.Where}: {s.Type}")
            .Distinct()
            .ToList();
        Assert.True(offenders.Count == 0, "F# types in the public surface:\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void Every_public_type_lives_in_RnnFun_CSharp()
    {
        var stray = Facade.GetExportedTypes().Where(t => t.Namespace != "RnnFun.CSharp").Select(t => t.FullName).ToList();
        Assert.Empty(stray);
    }
}
