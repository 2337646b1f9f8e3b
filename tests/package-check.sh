#!/usr/bin/env bash
# Packs RnnFun, RnnFun.Plotting and RnnFun.CSharp into a local folder, builds a fresh C# console
# program that references RnnFun.CSharp from that folder (its dependencies from the machine's
# configured sources), and runs it. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
feed="$work/feed"
for project in src/RnnFun/RnnFun.fsproj src/RnnFun.Plotting/RnnFun.Plotting.fsproj src/RnnFun.CSharp/RnnFun.CSharp.csproj; do
    dotnet pack "$root/$project" -c Release -o "$feed" -nologo -v q
done
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props" | head -n 1)"
consumer="$work/consumer"
mkdir -p "$consumer"
cp "$root/tests/package-check/Program.cs" "$consumer/"
cat >"$consumer/Consumer.csproj" <<PROJECT
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="RnnFun.CSharp" Version="$version" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
  </ItemGroup>
</Project>
PROJECT
# A package of the same version from an earlier run must not be taken from the cache.
cache="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
rm -rf "$cache/rnnfun" "$cache/rnnfun.plotting" "$cache/rnnfun.csharp"
# The local folder is added to the machine's sources for this build only (nothing is committed).
dotnet restore "$consumer/Consumer.csproj" --source "$feed" $(dotnet nuget list source --format short 2>/dev/null | awk '/^E /{print "--source " $2}') -nologo -v q
dotnet build "$consumer/Consumer.csproj" --no-restore -c Release -nologo -v q
(cd "$work" && dotnet "$consumer/bin/Release/net10.0/Consumer.dll")
